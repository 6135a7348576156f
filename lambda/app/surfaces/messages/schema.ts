/**
 * Anthropic's Messages request (POST /v1/messages), validated with zod. Loose where Anthropic grows: unknown
 * top-level fields and block types pass through untouched to `anthropic` targets (byte-for-byte the
 * client's intent); the translation to other targets refuses what it cannot express (400 naming the field,
 * or a fallback to a target that can).
 */
import * as z from 'zod';
import { onFirstUse } from '../../../core/on-first-use';

/** Built on the first request of this surface (on-first-use.ts), not at a cold start. */
const schemas = onFirstUse(() => {
  const cacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() });

  const textBlock = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl.nullish() });
  const imageBlock = z.looseObject({
    type: z.literal('image'),
    source: z.discriminatedUnion('type', [
      z.object({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string() }),
      z.object({ type: z.literal('url'), url: z.string().min(1) }),
    ]),
    cache_control: cacheControl.nullish(),
  });
  const toolUseBlock = z.looseObject({
    type: z.literal('tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
    cache_control: cacheControl.nullish(),
  });
  const toolResultBlock = z.looseObject({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.union([z.string(), z.array(z.union([textBlock, imageBlock]))]).optional(),
    is_error: z.boolean().optional(),
    cache_control: cacheControl.nullish(),
  });
  const thinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().optional() });
  const redactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });
  /** Block types added after this was written (documents, server tools, ...): relayed to Anthropic, refused elsewhere. */
  const otherBlock = z.looseObject({ type: z.string().min(1) });

  const block = z.union([textBlock, imageBlock, toolUseBlock, toolResultBlock, thinkingBlock, redactedThinkingBlock, otherBlock]);

  const message = z.object({
    role: z.enum(['user', 'assistant']),
    content: z.union([z.string(), z.array(block)]),
  });

  const tool = z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()).optional(),
    /** Server tools (`web_search_20250305`, ...) have a `type`; custom tools have none or `custom`. */
    type: z.string().optional(),
    cache_control: cacheControl.nullish(),
  });

  const toolChoice = z.discriminatedUnion('type', [
    z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
    z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
    z.object({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
    z.object({ type: z.literal('none') }),
  ]);

  const thinking = z.discriminatedUnion('type', [
    z.object({ type: z.literal('enabled'), budget_tokens: z.number().int().min(1) }),
    z.object({ type: z.literal('disabled') }),
  ]);

  const messagesRequestSchema = z.looseObject({
    model: z.string().min(1),
    messages: z.array(message).min(1),
    max_tokens: z.number().int().positive(),
    system: z.union([z.string(), z.array(textBlock)]).optional(),
    stream: z.boolean().optional(),
    stop_sequences: z.array(z.string()).optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().nonnegative().optional(),
    metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
    tools: z.array(tool).optional(),
    tool_choice: toolChoice.optional(),
    thinking: thinking.optional(),
  });
  /** Checked on the request (a 400 before admission): thinking tokens are output tokens, inside max_tokens. */
  const messagesBodySchema = messagesRequestSchema.refine((r) => r.thinking?.type !== 'enabled' || r.thinking.budget_tokens < r.max_tokens, {
    message: 'thinking.budget_tokens must be less than max_tokens',
    path: ['thinking', 'budget_tokens'],
  });

  /** POST /v1/messages/count_tokens: the same body without max_tokens. */
  const countTokensRequestSchema = messagesRequestSchema.omit({ max_tokens: true, stream: true });
  return { cacheControl, textBlock, imageBlock, toolUseBlock, toolResultBlock, thinkingBlock, redactedThinkingBlock, otherBlock, block, message, tool, toolChoice, thinking, messagesRequestSchema, messagesBodySchema, countTokensRequestSchema };
});
type Schemas = ReturnType<typeof schemas>;
export const messagesRequestSchema = (): Schemas['messagesRequestSchema'] => schemas().messagesRequestSchema;
export const messagesBodySchema = (): Schemas['messagesBodySchema'] => schemas().messagesBodySchema;
export const countTokensRequestSchema = (): Schemas['countTokensRequestSchema'] => schemas().countTokensRequestSchema;
export type CacheControl = z.infer<Schemas['cacheControl']>;
export type TextBlock = z.infer<Schemas['textBlock']>;
export type ImageBlock = z.infer<Schemas['imageBlock']>;
export type ToolUseBlock = z.infer<Schemas['toolUseBlock']>;
export type ToolResultBlock = z.infer<Schemas['toolResultBlock']>;
export type ContentBlock = z.infer<Schemas['block']>;
export type MessageParam = z.infer<Schemas['message']>;
export type ToolParam = z.infer<Schemas['tool']>;
export type MessagesRequest = z.infer<Schemas['messagesRequestSchema']>;
export type CountTokensRequest = z.infer<Schemas['countTokensRequestSchema']>;

/** Text of a system prompt, blocks joined. */
export function systemText(system: MessagesRequest['system']): string {
  if (system === undefined) return '';
  return typeof system === 'string' ? system : system.map((b) => b.text).join('\n');
}
