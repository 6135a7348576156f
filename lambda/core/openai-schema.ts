/**
 * The OpenAI Chat Completions request, validated with zod. This is the gateway's canonical request shape:
 * every provider adapter maps *from* it. Fields a provider cannot honour are rejected by that adapter
 * (400), never silently dropped.
 */
import * as z from 'zod';
import { modelNameSchema } from './model-name';

/**
 * Prompt caching (Anthropic's `cache_control`, accepted on content parts as LiteLLM and OpenRouter do):
 * Anthropic targets get it on the block, Bedrock a cache point after it, OpenAI-compatible hosts (which
 * cache automatically) never see it.
 */
const cacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() });
export type CacheControl = z.infer<typeof cacheControl>;
const textPart = z.object({ type: z.literal('text'), text: z.string(), cache_control: cacheControl.optional() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
  cache_control: cacheControl.optional(),
});
const contentPart = z.discriminatedUnion('type', [textPart, imagePart]);
export type TextPart = z.infer<typeof textPart>;
export type ImagePart = z.infer<typeof imagePart>;
export type ContentPart = z.infer<typeof contentPart>;

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCall>;

const systemMessage = z.object({
  role: z.enum(['system', 'developer']),
  content: z.union([z.string(), z.array(textPart)]),
  name: z.string().optional(),
});
const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(contentPart).min(1)]),
  name: z.string().optional(),
});
/**
 * An Anthropic model's extended thinking, carried through the canonical shapes (LiteLLM's names): on an
 * assistant message in the history (the signed blocks a tool loop must send back), on a completion's
 * message and, in pieces, on stream deltas (`reasoning_content` for the text; a `thinking` block with
 * empty text for the closing signature; `redacted_thinking` whole).
 */
const thinkingBlock = z.discriminatedUnion('type', [
  z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() }),
  z.object({ type: z.literal('redacted_thinking'), data: z.string() }),
]);
export type ThinkingBlock = z.infer<typeof thinkingBlock>;

const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(toolCall).optional(),
  refusal: z.string().nullable().optional(),
  thinking_blocks: z.array(thinkingBlock).optional(),
});
const toolMessage = z.object({
  role: z.literal('tool'),
  content: z.union([z.string(), z.array(textPart)]),
  tool_call_id: z.string().min(1),
});
const message = z.discriminatedUnion('role', [systemMessage, userMessage, assistantMessage, toolMessage]);
export type ChatMessage = z.infer<typeof message>;
export type SystemMessage = z.infer<typeof systemMessage>;
export type UserMessage = z.infer<typeof userMessage>;
export type AssistantMessage = z.infer<typeof assistantMessage>;
export type ToolMessage = z.infer<typeof toolMessage>;

const jsonObject = z.record(z.string(), z.unknown());
const tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: jsonObject.optional(),
    strict: z.boolean().nullable().optional(),
  }),
  /** Prompt caching up to and including this tool (LiteLLM's placement): as `cache_control` on content parts. */
  cache_control: cacheControl.optional(),
});
export type Tool = z.infer<typeof tool>;

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
]);
export type ToolChoice = z.infer<typeof toolChoice>;

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: jsonObject.optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);
export type ResponseFormat = z.infer<typeof responseFormat>;

const nonNegInt = z.number().int().nonnegative();

export const chatCompletionRequestSchema = z.strictObject({
  model: modelNameSchema,
  messages: z.array(message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  seed: z.number().int().nullable().optional(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  // Accepted and passed through to OpenAI-compatible hosts; other adapters reject them when set.
  n: z.number().int().min(1).max(128).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: nonNegInt.max(20).nullable().optional(),
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullable().optional(),
  service_tier: z.string().nullable().optional(),
  store: z.boolean().nullable().optional(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/**
 * The output-token cap the client asked for, whichever spelling it used; when it sent both
 * `max_tokens` and `max_completion_tokens`, the smaller (the gateway reserves for and forwards that one).
 */
export function requestedMaxTokens(req: Pick<ChatCompletionRequest, 'max_tokens' | 'max_completion_tokens'>): number | undefined {
  const asked = [req.max_tokens, req.max_completion_tokens].filter((v): v is number => typeof v === 'number');
  return asked.length > 0 ? Math.min(...asked) : undefined;
}

/** Text of a message's content, parts joined (images are not text). */
export function contentText(content: string | ReadonlyArray<ContentPart> | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

// ---- Response shapes (what the gateway sends back; adapters produce these) ----

/**
 * Set (never serialised: a symbol key) on a Usage whose upstream counts were impossible (negative,
 * fractional, non-numeric, beyond a safe integer) and had to be clamped on the way in; recorded as
 * `usageClamped` (core/usage.ts).
 */
export const USAGE_CLAMPED: unique symbol = Symbol('tollgate.usageClamped');

export interface Usage {
  [USAGE_CLAMPED]?: true;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** OpenAI convention: `prompt_tokens` *includes* cached tokens. `cache_write_tokens` is Tollgate's extension. */
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; refusal?: string | null; reasoning_content?: string; thinking_blocks?: ThinkingBlock[] };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: Usage;
  system_fingerprint?: string | null;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; tool_calls?: ToolCallDelta[]; refusal?: string | null; reasoning_content?: string; thinking_blocks?: ThinkingBlock[] };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: Usage | null;
  system_fingerprint?: string | null;
}

export interface ModelList {
  object: 'list';
  data: Array<{ id: string; object: 'model'; created: number; owned_by: string }>;
}
