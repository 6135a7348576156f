/**
 * Canonical OpenAI request → Anthropic Messages request, and Anthropic message → OpenAI completion.
 * Pure functions, tested on recorded shapes; the stream translation lives in stream.ts.
 */
import { BadRequestError, UnsupportedParameterError } from '../../core/errors';
import {
  requestedMaxTokens,
  type ChatCompletion,
  type ChatCompletionRequest,
  type ChatMessage,
  type ContentPart,
  type FinishReason,
  type SystemMessage,
  type ToolCall,
  type Usage,
} from '../../core/openai-schema';
import { isRecord } from '../shared/http-transport';
import { imageMediaType, isHttpUrl, isSystem, systemText, parseDataUrl, parseToolArguments, rejectUnsupportedFields, stopSequences } from '../shared/request-checks';
import { count, usageFromSplit } from '../shared/token-usage';
import { malformedResponseError } from '../shared/upstream-errors';
import type { AnthropicMessage, AnthropicRequest, AnthropicRequestBlock, AnthropicResponse, AnthropicToolChoice, AnthropicUsage } from './wire-types';

/** Used when neither the client nor the model config gives an output cap (Anthropic requires one). */
export const DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicMappingOptions {
  stream: boolean;
  /** The model's configured output ceiling (ProviderCall.maxOutputTokens). */
  maxOutputTokens?: number;
}

export function toAnthropicRequest(provider: string, req: ChatCompletionRequest, opts: AnthropicMappingOptions): AnthropicRequest {
  rejectUnsupportedFields(req, provider);
  if (req.temperature != null && req.temperature > 1) {
    throw new UnsupportedParameterError(provider, 'temperature', 'Anthropic accepts values from 0 to 1');
  }
  const system: Array<{ type: 'text'; text: string }> = [];
  const messages: AnthropicMessage[] = [];
  req.messages.forEach((message, i) => {
    if (isSystem(message)) {
      const text = systemText(message);
      if (text !== '') system.push({ type: 'text', text });
      return;
    }
    const mapped = mapMessage(provider, message, i);
    if (mapped.content.length > 0) appendMerged(messages, mapped);
  });

  const out: AnthropicRequest = {
    model: req.model,
    messages,
    max_tokens: requestedMaxTokens(req) ?? opts.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
  };
  if (system.length > 0) out.system = system;
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
    }));
    const choice = toolChoice(req);
    if (choice) out.tool_choice = choice;
  }
  if (opts.stream) out.stream = true;
  return out;
}

function mapMessage(provider: string, message: Exclude<ChatMessage, SystemMessage>, i: number): AnthropicMessage {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: userBlocks(provider, message.content, i) };
    case 'assistant': {
      const content: AnthropicRequestBlock[] = textBlocks(message.content ?? null);
      (message.tool_calls ?? []).forEach((call: ToolCall, j) => {
        const input = parseToolArguments(call, `messages[${i}].tool_calls[${j}].function.arguments`);
        content.push({ type: 'tool_use', id: call.id, name: call.function.name, input });
      });
      return { role: 'assistant', content };
    }
    case 'tool': {
      const text = typeof message.content === 'string' ? message.content : message.content.map((p) => p.text).join('');
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: message.tool_call_id, content: text }] };
    }
  }
}

function textBlocks(content: string | ReadonlyArray<{ type: 'text'; text: string }> | null): AnthropicRequestBlock[] {
  if (content === null) return [];
  const texts = typeof content === 'string' ? [content] : content.map((p) => p.text);
  // Anthropic rejects empty text blocks (e.g. the `""` content beside an assistant's tool calls).
  return texts.filter((t) => t !== '').map((text) => ({ type: 'text', text }));
}

function userBlocks(provider: string, content: string | ContentPart[], i: number): AnthropicRequestBlock[] {
  if (typeof content === 'string') return textBlocks(content);
  const blocks: AnthropicRequestBlock[] = [];
  content.forEach((part, j) => {
    if (part.type === 'text') {
      if (part.text !== '') blocks.push({ type: 'text', text: part.text });
      return;
    }
    const param = `messages[${i}].content[${j}].image_url.url`;
    const url = part.image_url.url;
    const data = parseDataUrl(url);
    if (data) {
      const mediaType = imageMediaType(data.mediaType);
      if (!mediaType) throw new UnsupportedParameterError(provider, param, `image type ${data.mediaType} (use png, jpeg, gif or webp)`);
      blocks.push({ type: 'image', source: { type: 'base64', media_type: mediaType, data: data.base64 } });
    } else if (isHttpUrl(url)) {
      blocks.push({ type: 'image', source: { type: 'url', url } });
    } else {
      throw new BadRequestError('Image URLs must be http(s) URLs or base64 data URLs.', { param, code: 'invalid_image_url' });
    }
  });
  return blocks;
}

/** Anthropic wants strictly alternating turns; consecutive tool results (and user turns) become one turn. */
function appendMerged(messages: AnthropicMessage[], next: AnthropicMessage): void {
  const last = messages[messages.length - 1];
  if (last && last.role === next.role) last.content.push(...next.content);
  else messages.push(next);
}

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
    uncachedInput: count(u.input_tokens),
    output: count(u.output_tokens),
    cacheRead: count(u.cache_read_input_tokens),
    cacheWrite: count(u.cache_creation_input_tokens),
  });
}

export function fromAnthropicResponse(provider: string, body: unknown, created: number): ChatCompletion {
  if (!isRecord(body) || !Array.isArray(body.content)) throw malformedResponseError(provider, 'message');
  const message = body as unknown as AnthropicResponse;
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (!isRecord(block)) throw malformedResponseError(provider, 'message');
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: String(block.id), type: 'function', function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking / redacted_thinking blocks have no place in a chat completion.
  }
  return {
    id: message.id,
    object: 'chat.completion',
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReason(message.stop_reason),
        logprobs: null,
      },
    ],
    usage: anthropicUsage(message.usage ?? {}),
  };
}
