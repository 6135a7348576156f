/**
 * Checks shared by adapters whose upstream is not OpenAI: fields they cannot honour are refused with an
 * UnsupportedParameterError (400 naming the field) before any network call, so the router can try another
 * target (the schema's rule: rejected, never silently dropped).
 */
import { BadRequestError, UnsupportedParameterError } from '../../core/errors';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../core/json-depth';
import type { CacheControl, ChatCompletionRequest, ChatMessage, ContentPart, SystemMessage, ThinkingBlock, ToolCall } from '../../core/openai-schema';

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

/** `honoured`: params this adapter maps for this request (e.g. `reasoning_effort` to an Anthropic model's thinking). */
export function rejectUnsupportedFields(req: ChatCompletionRequest, provider: string, honoured: ReadonlySet<string> = NONE): void {
  for (const [param, used] of NON_OPENAI_UNSUPPORTED) {
    if (used(req) && !honoured.has(param)) throw new UnsupportedParameterError(provider, param);
  }
}
const NONE: ReadonlySet<string> = new Set();

/**
 * `reasoning_effort` → an Anthropic model's extended-thinking budget (LiteLLM's table; Anthropic's minimum
 * budget is 1,024). Thinking tokens are output tokens inside max_tokens, so the budget must fit below the
 * cap that was priced and is sent (`maxTokens`): refused otherwise (another target may have room).
 */
const THINKING_BUDGET = { minimal: 1024, low: 1024, medium: 2048, high: 4096 } as const;

export function effortThinkingBudget(req: ChatCompletionRequest, provider: string, maxTokens: number): number | undefined {
  const effort = req.reasoning_effort;
  if (effort == null) return undefined;
  const budget = THINKING_BUDGET[effort];
  if (budget >= maxTokens) {
    throw new UnsupportedParameterError(provider, 'reasoning_effort', `'${effort}' is a thinking budget of ${budget} tokens, which must be less than max_tokens (${maxTokens} on this target after the gateway's output cap)`);
  }
  return budget;
}

/** Anthropic's models (on Anthropic, or on Bedrock by id or inference profile) take extended thinking. */
export function isAnthropicModel(model: string): boolean {
  return /(^|[./])claude-|anthropic\.claude/.test(model);
}

export const REASONING_EFFORT: ReadonlySet<string> = new Set(['reasoning_effort']);

/** Anthropic and Bedrock take tool input as an object; OpenAI history carries it as a JSON string. */
function parseToolArguments(call: ToolCall, param: string): Record<string, unknown> {
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

interface DataUrl {
  mediaType: string;
  base64: string;
}

/** `data:image/png;base64,....` → parts; undefined when it is not a base64 data URL. */
function parseDataUrl(url: string): DataUrl | undefined {
  const match = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)(?:;[a-z0-9-]+=[^;,]*)*;base64,(.*)$/is.exec(url);
  if (!match) return undefined;
  return { mediaType: match[1].toLowerCase(), base64: match[2] };
}

function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

/** The canonical image media type, or undefined when the upstreams we speak to cannot take it. */
function imageMediaType(mediaType: string): ImageMediaType | undefined {
  const normalised = mediaType === 'image/jpg' ? 'image/jpeg' : mediaType;
  return (IMAGE_MEDIA_TYPES as readonly string[]).includes(normalised) ? (normalised as ImageMediaType) : undefined;
}

function isSystem(message: ChatMessage): message is SystemMessage {
  return message.role === 'system' || message.role === 'developer';
}

/** System, developer and tool messages carry text only (a string or text parts). */
function systemText(message: { content: string | ReadonlyArray<{ text: string }> }): string {
  return typeof message.content === 'string' ? message.content : message.content.map((p) => p.text).join('');
}

/** An image part, checked: a base64 payload of a supported type, or an http(s) URL. */
export type ImageSource = { kind: 'base64'; mediaType: ImageMediaType; base64: string } | { kind: 'url'; url: string };

/** How one upstream spells each content block; `image` may refuse a source it cannot take. */
export interface BlockBuilders<B> {
  text(text: string): B;
  image(source: ImageSource, param: string, provider: string): B;
  toolUse(call: ToolCall, input: Record<string, unknown>): B;
  toolResult(toolCallId: string, text: string): B;
  /** An assistant turn's thinking block, sent back as the model signed it; upstreams without one drop them. */
  thinking?(block: ThinkingBlock): B;
  /** A block the client marked for prompt caching (`cache_control`): Anthropic marks the block, Converse adds a cache point after it. */
  cached(block: B, cache: CacheControl): B[];
}

/** A system prompt text, with the cache marker its parts carried. */
export interface SystemText {
  text: string;
  cache?: CacheControl;
}

function cacheOf(content: string | ReadonlyArray<{ cache_control?: CacheControl }> | null | undefined): CacheControl | undefined {
  if (content == null || typeof content === 'string') return undefined;
  for (let i = content.length - 1; i >= 0; i--) if (content[i].cache_control) return content[i].cache_control;
  return undefined;
}

function withCache<B>(build: BlockBuilders<B>, block: B, cache: CacheControl | undefined): B[] {
  return cache ? build.cached(block, cache) : [block];
}

export interface Turn<B> {
  role: 'user' | 'assistant';
  content: B[];
}

/**
 * OpenAI messages → system texts and strictly alternating user/assistant turns, as Anthropic and Converse
 * both want: system/developer messages are lifted out, tool results become user turns, consecutive turns of
 * one role are merged, and empty text blocks (both upstreams reject them, e.g. the `""` content beside an
 * assistant's tool calls) and turns left empty are dropped.
 */
export function mapConversation<B>(provider: string, messages: ReadonlyArray<ChatMessage>, build: BlockBuilders<B>): { system: SystemText[]; turns: Array<Turn<B>> } {
  const system: SystemText[] = [];
  const turns: Array<Turn<B>> = [];
  messages.forEach((message, i) => {
    if (isSystem(message)) {
      const text = systemText(message);
      const cache = cacheOf(message.content);
      if (text !== '') system.push(cache ? { text, cache } : { text });
      return;
    }
    const next = mapMessage(provider, message, i, build);
    if (next.content.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === next.role) last.content.push(...next.content);
    else turns.push(next);
  });
  return { system, turns };
}

function mapMessage<B>(provider: string, message: Exclude<ChatMessage, SystemMessage>, i: number, build: BlockBuilders<B>): Turn<B> {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: userBlocks(provider, message.content, i, build) };
    case 'assistant': {
      // Thinking first: Anthropic wants an assistant turn's thinking before its text and tool calls.
      const thinking = build.thinking ? (message.thinking_blocks ?? []).map((b) => build.thinking!(b)) : [];
      const content = textBlocks(message.content ?? null, build);
      const cache = cacheOf(message.content);
      if (cache && content.length > 0) content.push(...build.cached(content.pop() as B, cache));
      (message.tool_calls ?? []).forEach((call, j) => {
        content.push(build.toolUse(call, parseToolArguments(call, `messages[${i}].tool_calls[${j}].function.arguments`)));
      });
      return { role: 'assistant', content: [...thinking, ...content] };
    }
    case 'tool':
      return { role: 'user', content: withCache(build, build.toolResult(message.tool_call_id, systemText(message)), cacheOf(message.content)) };
  }
}

function textBlocks<B>(content: string | ReadonlyArray<{ text: string }> | null, build: BlockBuilders<B>): B[] {
  if (content === null) return [];
  const texts = typeof content === 'string' ? [content] : content.map((p) => p.text);
  return texts.filter((t) => t !== '').map((text) => build.text(text));
}

function userBlocks<B>(provider: string, content: string | ContentPart[], i: number, build: BlockBuilders<B>): B[] {
  if (typeof content === 'string') return textBlocks(content, build);
  const blocks: B[] = [];
  content.forEach((part, j) => {
    if (part.type === 'text') {
      if (part.text !== '') blocks.push(...withCache(build, build.text(part.text), part.cache_control));
      return;
    }
    const param = `messages[${i}].content[${j}].image_url.url`;
    const url = part.image_url.url;
    const data = parseDataUrl(url);
    if (data) {
      const mediaType = imageMediaType(data.mediaType);
      if (!mediaType) throw new UnsupportedParameterError(provider, param, `image type ${data.mediaType} (use png, jpeg, gif or webp)`);
      blocks.push(...withCache(build, build.image({ kind: 'base64', mediaType, base64: data.base64 }, param, provider), part.cache_control));
    } else if (isHttpUrl(url)) {
      blocks.push(...withCache(build, build.image({ kind: 'url', url }, param, provider), part.cache_control));
    } else {
      throw new BadRequestError('Image URLs must be http(s) URLs or base64 data URLs.', { param, code: 'invalid_image_url' });
    }
  });
  return blocks;
}
