/**
 * Chat completion → Response object, and the pieces the stream builder shares with it: the response
 * shell (the request's settings echoed back, as OpenAI does), output items, usage and finish mapping.
 */
import { randomUUID } from 'node:crypto';
import type { ChatCompletion, FinishReason } from '../../../core/openai-schema';
import { fromOpenAIUsage, type TokenUsage } from '../../../core/usage';
import { isRecord } from '../../../providers/shared/http-transport';
import { count } from '../../../providers/shared/token-usage';
import type { ResponsesRequest } from './schema';
import type { FunctionCallOutput, OutputItem, OutputMessage, ResponseObject, ResponsesUsage } from './wire-types';

/** Ids in OpenAI's shapes (`resp_…`, `msg_…`, `fc_…`); injectable so golden tests are stable. */
export type IdSource = (prefix: 'resp' | 'msg' | 'fc') => string;

export const randomIds: IdSource = (prefix) => `${prefix}_${randomUUID().replace(/-/g, '')}`;

/** The Response before any output: status in_progress, the request's settings echoed back. */
export function responseShell(req: ResponsesRequest, id: string, createdAt: number, model: string): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
    store: false,
    temperature: req.temperature ?? null,
    text: { format: req.text?.format ?? { type: 'text' } },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? null,
    truncation: req.truncation ?? 'disabled',
    usage: null,
    user: req.user ?? null,
    metadata: req.metadata ?? {},
  };
}

export function toResponsesUsage(u: TokenUsage, costUsd?: number): ResponsesUsage {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cacheReadTokens, cache_write_tokens: u.cacheWriteTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
    ...(costUsd !== undefined ? { cost: costUsd } : {}),
  };
}

/** A native upstream's Responses usage (OpenAI's convention: input_tokens includes cached), counts clamped. */
export function fromResponsesUsage(raw: unknown): TokenUsage | undefined {
  if (!isRecord(raw) || typeof raw.input_tokens !== 'number') return undefined;
  const input = isRecord(raw.input_tokens_details) ? raw.input_tokens_details : {};
  const output = isRecord(raw.output_tokens_details) ? raw.output_tokens_details : {};
  return {
    inputTokens: count(raw.input_tokens),
    outputTokens: count(raw.output_tokens),
    cacheReadTokens: count(input.cached_tokens),
    cacheWriteTokens: count(input.cache_write_tokens),
    reasoningTokens: count(output.reasoning_tokens),
  };
}

/** Final status from the chat finish reason: a cut-off answer is `incomplete`, with the reason. */
export function finalStatus(finish: FinishReason | null | undefined): Pick<ResponseObject, 'status' | 'incomplete_details'> {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export function messageItem(id: string, text: string, refusal: string | null | undefined, status: OutputMessage['status']): OutputMessage {
  const content: OutputMessage['content'] = [];
  if (refusal) content.push({ type: 'refusal', refusal });
  else content.push({ type: 'output_text', text, annotations: [], logprobs: [] });
  return { type: 'message', id, role: 'assistant', status, content };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: FunctionCallOutput['status']): FunctionCallOutput {
  return { type: 'function_call', id, call_id: callId, name, arguments: args, status };
}

export function chatToResponse(req: ResponsesRequest, completion: ChatCompletion, createdAt: number, ids: IdSource = randomIds): ResponseObject {
  const choice = completion.choices[0];
  const message = choice?.message;
  const output: OutputItem[] = [];
  const text = typeof message?.content === 'string' ? message.content : '';
  if (text !== '' || message?.refusal) output.push(messageItem(ids('msg'), text, message?.refusal, 'completed'));
  for (const call of message?.tool_calls ?? []) output.push(functionCallItem(ids('fc'), call.id, call.function.name, call.function.arguments, 'completed'));
  const usage = fromOpenAIUsage(completion.usage);
  return {
    ...responseShell(req, ids('resp'), createdAt, completion.model || req.model),
    ...finalStatus(choice?.finish_reason),
    output,
    usage: usage ? toResponsesUsage(usage) : null,
  };
}
