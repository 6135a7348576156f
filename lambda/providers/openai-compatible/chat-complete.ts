/**
 * Request and response mapping for OpenAI-compatible hosts. Mostly a pass-through: the canonical request
 * *is* OpenAI's, so the work is stripping gateway-only fields, forcing usage on streams, and validating and
 * normalising what comes back (usage always in a final `choices: []` chunk).
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Usage } from '../../core/openai-schema';
import { newCompletionId, unixSeconds, withRawJson } from '../shared/chunks';
import { count, markIfClamped } from '../shared/token-usage';
import { isRecord } from '../shared/http-transport';
import { malformedResponseError, statusForErrorType, upstreamFailure } from '../shared/upstream-errors';
import type { MaxTokensField } from './api';

/** Consumed by the gateway (attribution), never sent upstream. */
const GATEWAY_ONLY_FIELDS = ['metadata'] as const;

/** The output cap to send: the effective cap (ProviderCall.maxOutputTokens) in the field the host wants. */
export interface UpstreamCap {
  field: MaxTokensField;
  tokens: number;
}

export function toUpstreamBody(request: ChatCompletionRequest, stream: boolean, cap: UpstreamCap, streamOptions = true): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request)) {
    // null means "unset" in OpenAI's API; some compatible hosts reject explicit nulls.
    if (value === null || value === undefined) continue;
    if ((GATEWAY_ONLY_FIELDS as readonly string[]).includes(key)) continue;
    if (key === 'max_tokens' || key === 'max_completion_tokens') continue;
    body[key] = value;
  }
  if (request.messages.some(hasGatewayFields)) body.messages = request.messages.map(withoutGatewayFields);
  if (request.tools?.some((t) => t.cache_control !== undefined)) body.tools = request.tools.map(({ cache_control: _c, ...t }) => t);
  // Always capped, in exactly one field: the cap the gatekeeper priced, never the host's own default.
  body[cap.field] = cap.tokens;
  if (stream) {
    body.stream = true;
    // The gateway meters every stream, so usage is requested even when the client did not ask for it.
    if (streamOptions) body.stream_options = { ...request.stream_options, include_usage: true };
    else delete body.stream_options;
  } else {
    body.stream = false;
    delete body.stream_options;
  }
  return body;
}

/**
 * Prompt caching markers (on content parts and tools) and thinking blocks are Anthropic's and Bedrock's:
 * OpenAI-compatible hosts cache on their own, have no signed thinking, and reject the fields.
 */
function hasCacheControl(m: ChatMessage): boolean {
  return Array.isArray(m.content) && m.content.some((p) => p.cache_control !== undefined);
}

function hasGatewayFields(m: ChatMessage): boolean {
  return hasCacheControl(m) || (m.role === 'assistant' && m.thinking_blocks !== undefined);
}

function withoutGatewayFields(m: ChatMessage): ChatMessage {
  if (!hasGatewayFields(m)) return m;
  // Only a message that had markers gets new content: an assistant turn without content keeps none (no `content: undefined`).
  const stripped = hasCacheControl(m) ? { content: (m.content as Array<Record<string, unknown>>).map(({ cache_control: _c, ...part }) => part) } : {};
  if (m.role !== 'assistant') return { ...m, ...stripped } as ChatMessage;
  const { thinking_blocks: _t, ...rest } = m;
  return { ...rest, ...stripped } as ChatMessage;
}

export function parseCompletion(provider: string, body: unknown): ChatCompletion {
  if (!isRecord(body) || !Array.isArray(body.choices) || !body.choices.every(isRecord)) throw malformedResponseError(provider, 'chat completion');
  const completion = body as unknown as ChatCompletion;
  const usage = normaliseUsage(body.usage);
  return usage ? { ...completion, usage } : completion;
}

/**
 * One SSE `data:` payload → a chunk. Throws UpstreamError for invalid JSON and for in-band `error`
 * events (OpenAI and several compatible hosts report mid-stream failures that way); `apiKey` is redacted
 * from the event's text, which is only logged.
 */
export function parseChunk(provider: string, data: string, apiKey?: string): ChatCompletionChunk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw malformedResponseError(provider, 'stream chunk', err);
  }
  if (isRecord(parsed) && parsed.error !== undefined && parsed.error !== null) {
    const error = isRecord(parsed.error) ? parsed.error : { message: parsed.error };
    throw upstreamFailure({
      provider,
      status: statusForErrorType(error.type),
      detail: typeof error.message === 'string' ? error.message : JSON.stringify(error),
      apiKey,
      midStream: true,
    });
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.choices) || !parsed.choices.every(isRecord)) throw malformedResponseError(provider, 'stream chunk');
  const chunk = parsed as unknown as ChatCompletionChunk;
  // Unchanged from the wire: the relay may forward `data` as is rather than serialise it again.
  if (parsed.usage === undefined || parsed.usage === null) return withRawJson(chunk, data);
  return { ...chunk, usage: normaliseUsage(parsed.usage) ?? null };
}

/**
 * OpenAI's usage, with DeepSeek's `prompt_cache_hit_tokens` folded into `cached_tokens` (its
 * `prompt_tokens` already includes them, as OpenAI's convention wants).
 */
export function normaliseUsage(raw: unknown): Usage | undefined {
  if (!isRecord(raw) || typeof raw.prompt_tokens !== 'number') return undefined;
  const usage = { ...raw } as unknown as Usage;
  // Counts are money: negative, fractional or non-numeric values from a host are clamped, never trusted.
  usage.prompt_tokens = count(raw.prompt_tokens);
  const completion = count(raw.completion_tokens);
  usage.completion_tokens = completion;
  usage.total_tokens = typeof raw.total_tokens === 'number' ? count(raw.total_tokens) : usage.prompt_tokens + completion;
  const details = isRecord(raw.prompt_tokens_details) ? raw.prompt_tokens_details : undefined;
  if (details) {
    const clamped: Record<string, unknown> = { ...details };
    for (const k of ['cached_tokens', 'cache_write_tokens', 'audio_tokens']) if (k in clamped) clamped[k] = count(clamped[k]);
    usage.prompt_tokens_details = clamped as Usage['prompt_tokens_details'];
  }
  if (typeof details?.cached_tokens !== 'number' && typeof raw.prompt_cache_hit_tokens === 'number') {
    usage.prompt_tokens_details = { ...details, cached_tokens: count(raw.prompt_cache_hit_tokens) };
  }
  const reasoning = isRecord(raw.completion_tokens_details) ? raw.completion_tokens_details.reasoning_tokens : undefined;
  if (reasoning !== undefined) usage.completion_tokens_details = { ...usage.completion_tokens_details, reasoning_tokens: count(reasoning) };
  return markIfClamped(usage, [raw.prompt_tokens, raw.completion_tokens, raw.total_tokens, details?.cached_tokens, details?.cache_write_tokens, raw.prompt_cache_hit_tokens, reasoning]);
}

/**
 * Holds usage back so it always arrives in one final `choices: []` chunk, whether the host sends it
 * that way (OpenAI) or attached to the last content chunk (Gemini, Mistral, some vLLM builds).
 */
export class UsageCollector {
  private usage: Usage | undefined;
  private last: ChatCompletionChunk | undefined;

  /** The chunk to pass on now (without usage), or undefined when it carried nothing but usage. */
  take(chunk: ChatCompletionChunk): ChatCompletionChunk | undefined {
    this.last = chunk;
    if (chunk.usage == null) return chunk;
    this.usage = chunk.usage;
    if (chunk.choices.length === 0) return undefined;
    const { usage: _usage, ...rest } = chunk;
    return rest;
  }

  /**
   * The usage chunk, with the last chunk's envelope. A host whose chunks lack `id`, `created` or `model`
   * (a loose or broken one) gets a well-formed chunk anyway: a fresh id, now, and `model` as asked for.
   */
  final(requestedModel: string): ChatCompletionChunk | undefined {
    if (!this.usage || !this.last) return undefined;
    const { id, created, model, system_fingerprint } = this.last as Partial<ChatCompletionChunk>;
    const chunk: ChatCompletionChunk = {
      id: typeof id === 'string' ? id : newCompletionId(),
      object: 'chat.completion.chunk',
      created: typeof created === 'number' && Number.isSafeInteger(created) && created >= 0 ? created : unixSeconds(),
      model: typeof model === 'string' ? model : requestedModel,
      choices: [],
      usage: this.usage,
    };
    if (system_fingerprint !== undefined) chunk.system_fingerprint = system_fingerprint;
    return chunk;
  }
}
