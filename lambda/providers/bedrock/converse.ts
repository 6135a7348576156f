/**
 * Canonical OpenAI request → Bedrock Converse input, and Converse output → OpenAI completion. Pure
 * functions over the SDK's types. ConverseStream takes the same input; its events are in stream.ts.
 *
 * Choices made here:
 * - `tool_choice: "none"`: Converse has no "none". With no tool blocks in the history the tools are
 *   simply not sent (the model cannot call what it does not see); with tool blocks in the history Bedrock
 *   requires toolConfig, so the request is refused (UnsupportedParameterError) rather than silently allowing calls.
 * - `parallel_tool_calls: false` with tools cannot be expressed in Converse: refused.
 * - http(s) image URLs are refused: Converse takes image bytes (or S3), and the gateway does not fetch
 *   arbitrary URLs on a client's behalf.
 * - `user` is accepted and not forwarded (Converse has no end-user field; requestMetadata has a strict
 *   character set and is for invocation-log filtering).
 * - No output cap is invented: maxTokens is sent only when the client set one (Converse does not require it).
 */
import type {
  ContentBlock,
  ConverseRequest,
  ConverseResponse,
  ImageFormat,
  Message,
  StopReason,
  SystemContentBlock,
  TokenUsage,
  Tool,
  ToolChoice,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { UnsupportedParameterError } from '../../core/errors';
import { type ChatCompletion, type ChatCompletionRequest, type FinishReason, type ThinkingBlock, type ToolCall, type Usage } from '../../core/openai-schema';
import type { ProviderCall } from '../types';
import { newCompletionId } from '../shared/chunks';
import { effortThinkingBudget, isAnthropicModel, mapConversation, REASONING_EFFORT, rejectUnsupportedFields, stopSequences, type BlockBuilders } from '../shared/request-checks';
import { usageFromSplit } from '../shared/token-usage';
import { malformedResponseError } from '../shared/upstream-errors';

type Document = NonNullable<ToolUseBlock['input']>;
export type ConverseInput = ConverseRequest & { modelId: string; messages: Message[] };

const IMAGE_FORMATS: Record<string, ImageFormat> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** `maxTokens`: the effective output cap (ProviderCall.maxOutputTokens), always sent: what was priced is what is sent. */
export function toConverseInput(provider: string, req: ChatCompletionRequest, maxTokens: number, thinking?: ProviderCall['thinking']): ConverseInput {
  // reasoning_effort: extended thinking for Anthropic's models (other Bedrock models have no such knob here).
  const anthropic = isAnthropicModel(req.model);
  rejectUnsupportedFields(req, provider, anthropic ? REASONING_EFFORT : undefined);
  if (!thinking && anthropic) {
    const budget = effortThinkingBudget(req, provider, maxTokens);
    if (budget !== undefined) thinking = { budgetTokens: budget };
  }
  if (req.temperature != null && req.temperature > 1) {
    throw new UnsupportedParameterError(provider, 'temperature', 'Bedrock models accept values from 0 to 1');
  }
  const { system, turns: messages } = mapConversation(provider, req.messages, BLOCKS);
  const input: ConverseInput = { modelId: req.model, messages };
  if (system.length > 0) input.system = system.flatMap(({ text, cache }): SystemContentBlock[] => (cache ? [{ text }, CACHE_POINT] : [{ text }]));
  const inference = {
    maxTokens,
    ...(req.temperature != null ? { temperature: req.temperature } : {}),
    ...(req.top_p != null ? { topP: req.top_p } : {}),
    ...(stopSequences(req.stop) ? { stopSequences: stopSequences(req.stop) } : {}),
  };
  input.inferenceConfig = inference;
  const toolConfig = toToolConfig(provider, req, messages);
  if (toolConfig) input.toolConfig = toolConfig;
  if (thinking) input.additionalModelRequestFields = thinkingFields(provider, req.model, thinking);
  return input;
}

/**
 * Extended thinking is a model-specific field of Anthropic's models on Bedrock (Converse has no field of
 * its own): `additionalModelRequestFields.thinking`, as in Anthropic's API. The budget is inside
 * `maxTokens` (thinking tokens are output tokens, billed and capped as such); the surface checked it fits.
 */
function thinkingFields(provider: string, model: string, thinking: { budgetTokens: number }): Document {
  if (!isAnthropicModel(model)) throw new UnsupportedParameterError(provider, 'thinking', `extended thinking needs an Anthropic model; '${model}' is not one`);
  return { thinking: { type: 'enabled', budget_tokens: thinking.budgetTokens } };
}

/** Converse's prompt caching: a cache point after the blocks to cache (the client's `cache_control`). */
const CACHE_POINT = { cachePoint: { type: 'default' as const } };

const BLOCKS: BlockBuilders<ContentBlock> = {
  text: (text) => ({ text }),
  image: (source, param, provider) => {
    if (source.kind === 'url') throw new UnsupportedParameterError(provider, param, 'Bedrock needs image bytes; send the image as a base64 data URL');
    return { image: { format: IMAGE_FORMATS[source.mediaType], source: { bytes: Buffer.from(source.base64, 'base64') } } };
  },
  toolUse: (call, input) => ({ toolUse: { toolUseId: call.id, name: call.function.name, input: input as Document } }),
  toolResult: (toolCallId, text) => ({ toolResult: { toolUseId: toolCallId, content: [{ text }] } }),
  thinking: (b) =>
    b.type === 'thinking'
      ? { reasoningContent: { reasoningText: { text: b.thinking, signature: b.signature } } }
      : { reasoningContent: { redactedContent: Buffer.from(b.data, 'base64') } },
  cached: (block) => [block, CACHE_POINT],
};

function toToolConfig(provider: string, req: ChatCompletionRequest, messages: Message[]): ToolConfiguration | undefined {
  if (!req.tools || req.tools.length === 0) return undefined;
  const choice = req.tool_choice;
  if (choice === 'none') {
    const toolsInHistory = messages.some((m) => m.content?.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
    if (toolsInHistory) throw new UnsupportedParameterError(provider, 'tool_choice', "Bedrock cannot honour 'none' once tool calls are in the conversation");
    return undefined;
  }
  if (req.parallel_tool_calls === false) throw new UnsupportedParameterError(provider, 'parallel_tool_calls', 'Converse cannot disable parallel tool calls');
  // A tool marked with cache_control gets a cache point after it, as content blocks do.
  const tools: Tool[] = req.tools.flatMap((t): Tool[] => {
    const spec: Tool = {
      toolSpec: {
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        inputSchema: { json: (t.function.parameters ?? { type: 'object', properties: {} }) as Document },
      },
    };
    return t.cache_control ? [spec, CACHE_POINT] : [spec];
  });
  const toolChoice = mapToolChoice(choice);
  return toolChoice ? { tools, toolChoice } : { tools };
}

function mapToolChoice(choice: ChatCompletionRequest['tool_choice']): ToolChoice | undefined {
  if (choice === undefined || choice === 'auto') return choice === 'auto' ? { auto: {} } : undefined;
  if (choice === 'required') return { any: {} };
  if (choice === 'none') return undefined;
  return { tool: { name: choice.function.name } };
}

// ---- Responses ----

export function finishReason(stopReason: StopReason | string | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'content_filtered':
    case 'guardrail_intervened':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, malformed_* (the turn is over either way)
      return 'stop';
  }
}

/** Bedrock's `inputTokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes them. */
export function converseUsage(u: TokenUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  return usageFromSplit({
    uncachedInput: u.inputTokens,
    output: u.outputTokens,
    cacheRead: u.cacheReadInputTokens,
    cacheWrite: u.cacheWriteInputTokens,
  });
}

export function fromConverseResponse(provider: string, model: string, res: ConverseResponse, created: number): ChatCompletion {
  const message = res.output?.message;
  if (!message || !Array.isArray(message.content)) throw malformedResponseError(provider, 'Converse response');
  let text = '';
  const toolCalls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  for (const block of message.content) {
    if (typeof block !== 'object' || block === null) throw malformedResponseError(provider, 'Converse response');
    if (block.text !== undefined) text += block.text;
    else if (block.reasoningContent?.reasoningText) {
      thinking.push({ type: 'thinking', thinking: block.reasoningContent.reasoningText.text ?? '', signature: block.reasoningContent.reasoningText.signature ?? '' });
    } else if (block.reasoningContent?.redactedContent) {
      thinking.push({ type: 'redacted_thinking', data: Buffer.from(block.reasoningContent.redactedContent).toString('base64') });
    }
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId ?? '',
        type: 'function',
        function: { name: block.toolUse.name ?? '', arguments: JSON.stringify(block.toolUse.input ?? {}) },
      });
    }
    // Other blocks (citations, ...) have no place in a chat completion.
  }
  const reasoning = thinking.map((b) => (b.type === 'thinking' ? b.thinking : '')).join('');
  const usage = converseUsage(res.usage);
  return {
    id: newCompletionId(),
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && toolCalls.length > 0 ? null : text,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(thinking.length > 0 ? { reasoning_content: reasoning, thinking_blocks: thinking } : {}),
        },
        finish_reason: finishReason(res.stopReason),
        logprobs: null,
      },
    ],
    ...(usage ? { usage } : {}),
  };
}
