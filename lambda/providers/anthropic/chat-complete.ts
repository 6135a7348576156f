/**
 * Canonical OpenAI request → Anthropic Messages request, and Anthropic message → OpenAI completion.
 * Pure functions, tested on recorded shapes; the stream translation lives in stream.ts.
 */
import { UnsupportedParameterError } from '../../core/errors';
import {
  type ChatCompletion,
  type ChatCompletionRequest,
  type FinishReason,
  type ThinkingBlock,
  type ToolCall,
  type Usage,
} from '../../core/openai-schema';
import { isRecord } from '../shared/http-transport';
import { effortThinkingBudget, mapConversation, REASONING_EFFORT, rejectUnsupportedFields, stopSequences, type BlockBuilders } from '../shared/request-checks';
import { usageFromSplit } from '../shared/token-usage';
import { malformedResponseError } from '../shared/upstream-errors';
import type { AnthropicRequest, AnthropicRequestBlock, AnthropicResponse, AnthropicToolChoice, AnthropicUsage } from './wire-types';

export interface AnthropicMappingOptions {
  stream: boolean;
  /** The effective output cap (ProviderCall.maxOutputTokens): what was priced is what is sent. */
  maxOutputTokens: number;
}

export function toAnthropicRequest(provider: string, req: ChatCompletionRequest, opts: AnthropicMappingOptions): AnthropicRequest {
  rejectUnsupportedFields(req, provider, REASONING_EFFORT);
  if (req.temperature != null && req.temperature > 1) {
    throw new UnsupportedParameterError(provider, 'temperature', 'Anthropic accepts values from 0 to 1');
  }
  const { system, turns } = mapConversation(provider, req.messages, BLOCKS);
  const out: AnthropicRequest = {
    model: req.model,
    messages: turns,
    max_tokens: opts.maxOutputTokens,
  };
  if (system.length > 0) out.system = system.map(({ text, cache }) => ({ type: 'text', text, ...(cache ? { cache_control: cache } : {}) }));
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  const stop = stopSequences(req.stop);
  if (stop) out.stop_sequences = stop;
  if (req.user) out.metadata = { user_id: req.user };
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
      ...(t.cache_control ? { cache_control: t.cache_control } : {}),
    }));
    const choice = toolChoice(req);
    if (choice) out.tool_choice = choice;
  }
  // reasoning_effort → extended thinking (its text comes back as reasoning_content, its blocks as thinking_blocks).
  const budget = effortThinkingBudget(req, provider, opts.maxOutputTokens);
  if (budget !== undefined) out.thinking = { type: 'enabled', budget_tokens: budget };
  if (opts.stream) out.stream = true;
  return out;
}

const BLOCKS: BlockBuilders<AnthropicRequestBlock> = {
  text: (text) => ({ type: 'text', text }),
  image: (source) =>
    source.kind === 'base64'
      ? { type: 'image', source: { type: 'base64', media_type: source.mediaType, data: source.base64 } }
      : { type: 'image', source: { type: 'url', url: source.url } },
  toolUse: (call, input) => ({ type: 'tool_use', id: call.id, name: call.function.name, input }),
  toolResult: (toolCallId, text) => ({ type: 'tool_result', tool_use_id: toolCallId, content: text }),
  cached: (block, cache) => [{ ...block, cache_control: cache }],
  thinking: (b) => b,
};

function toolChoice(req: ChatCompletionRequest): AnthropicToolChoice | undefined {
  const disableParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  const choice = req.tool_choice;
  if (choice === undefined) return req.parallel_tool_calls === false ? { type: 'auto', ...disableParallel } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...disableParallel };
  if (choice === 'required') return { type: 'any', ...disableParallel };
  return { type: 'tool', name: choice.function.name, ...disableParallel };
}

// ---- Responses ----

export function finishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

export function anthropicUsage(u: AnthropicUsage): Usage {
  return usageFromSplit({
    uncachedInput: u.input_tokens,
    output: u.output_tokens,
    cacheRead: u.cache_read_input_tokens,
    cacheWrite: u.cache_creation_input_tokens,
  });
}

export function fromAnthropicResponse(provider: string, body: unknown, created: number): ChatCompletion {
  if (!isRecord(body) || !Array.isArray(body.content)) throw malformedResponseError(provider, 'message');
  const message = body as unknown as AnthropicResponse;
  let text = '';
  const toolCalls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  for (const block of message.content) {
    if (!isRecord(block)) throw malformedResponseError(provider, 'message');
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'thinking') thinking.push({ type: 'thinking', thinking: String(block.thinking ?? ''), signature: String(block.signature ?? '') });
    else if (block.type === 'redacted_thinking') thinking.push({ type: 'redacted_thinking', data: String(block.data ?? '') });
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: String(block.id), type: 'function', function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  return {
    id: message.id,
    object: 'chat.completion',
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && toolCalls.length > 0 ? null : text,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(thinking.length > 0 ? { reasoning_content: thinking.map((b) => (b.type === 'thinking' ? b.thinking : '')).join(''), thinking_blocks: thinking } : {}),
        },
        finish_reason: finishReason(message.stop_reason),
        logprobs: null,
      },
    ],
    usage: anthropicUsage(message.usage ?? {}),
  };
}
