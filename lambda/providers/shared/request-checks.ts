/**
 * Checks shared by adapters whose upstream is not OpenAI: fields they cannot honour are refused with an
 * UnsupportedParameterError (400 naming the field) before any network call, so the router can try another
 * target (the schema's rule: rejected, never silently dropped).
 */
import { BadRequestError, UnsupportedParameterError } from '../../core/errors';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../core/json-depth';
import type { ChatCompletionRequest, ChatMessage, SystemMessage, ToolCall } from '../../core/openai-schema';

type Check = (req: ChatCompletionRequest) => boolean;

/** Each entry: the param to name, and when the request uses it in a way a non-OpenAI upstream cannot honour. */
const NON_OPENAI_UNSUPPORTED: ReadonlyArray<readonly [string, Check]> = [
  ['n', (r) => r.n != null && r.n !== 1],
  ['response_format', (r) => r.response_format !== undefined && r.response_format.type !== 'text'],
  ['logprobs', (r) => r.logprobs === true],
  ['top_logprobs', (r) => r.top_logprobs != null],
  ['seed', (r) => r.seed != null],
  ['presence_penalty', (r) => r.presence_penalty != null && r.presence_penalty !== 0],
  ['frequency_penalty', (r) => r.frequency_penalty != null && r.frequency_penalty !== 0],
  ['logit_bias', (r) => r.logit_bias != null && Object.keys(r.logit_bias).length > 0],
  ['reasoning_effort', (r) => r.reasoning_effort != null],
  ['service_tier', (r) => r.service_tier != null && r.service_tier !== 'auto' && r.service_tier !== 'default'],
  ['store', (r) => r.store === true],
];

export function rejectUnsupportedFields(req: ChatCompletionRequest, provider: string): void {
  for (const [param, used] of NON_OPENAI_UNSUPPORTED) {
    if (used(req)) throw new UnsupportedParameterError(provider, param);
  }
}

/** Anthropic and Bedrock take tool input as an object; OpenAI history carries it as a JSON string. */
export function parseToolArguments(call: ToolCall, param: string): Record<string, unknown> {
  const raw = call.function.arguments.trim();
  if (raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BadRequestError(`Tool call '${call.id}' has arguments that are not valid JSON.`, { param, code: 'invalid_tool_arguments' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError(`Tool call '${call.id}' arguments must be a JSON object.`, { param, code: 'invalid_tool_arguments' });
  }
  if (jsonDepthExceeds(parsed)) {
    throw new BadRequestError(`Tool call '${call.id}' arguments nest deeper than ${MAX_JSON_DEPTH} levels.`, { param, code: 'invalid_tool_arguments' });
  }
  return parsed as Record<string, unknown>;
}

export function stopSequences(stop: ChatCompletionRequest['stop']): string[] | undefined {
  if (stop == null) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  return list.length > 0 ? list : undefined;
}

export interface DataUrl {
  mediaType: string;
  base64: string;
}

/** `data:image/png;base64,....` → parts; undefined when it is not a base64 data URL. */
export function parseDataUrl(url: string): DataUrl | undefined {
  const match = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)(?:;[a-z0-9-]+=[^;,]*)*;base64,(.*)$/is.exec(url);
  if (!match) return undefined;
  return { mediaType: match[1].toLowerCase(), base64: match[2] };
}

export function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

/** The canonical image media type, or undefined when the upstreams we speak to cannot take it. */
export function imageMediaType(mediaType: string): ImageMediaType | undefined {
  const normalised = mediaType === 'image/jpg' ? 'image/jpeg' : mediaType;
  return (IMAGE_MEDIA_TYPES as readonly string[]).includes(normalised) ? (normalised as ImageMediaType) : undefined;
}

export function isSystem(message: ChatMessage): message is SystemMessage {
  return message.role === 'system' || message.role === 'developer';
}

/** System, developer and tool messages carry text only (a string or text parts). */
export function systemText(message: { content: string | ReadonlyArray<{ text: string }> }): string {
  return typeof message.content === 'string' ? message.content : message.content.map((p) => p.text).join('');
}
