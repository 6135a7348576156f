/**
 * Anthropic's response side of the Messages API as this surface writes it: the message, its usage, the
 * SSE events, and the error shape (`{"type":"error","error":{"type","message"}}`) for every failure.
 */
import type { GatewayError } from '../../../core/errors';
import type { FinishReason } from '../../../core/openai-schema';
import type { TokenUsage } from '../../../core/usage';

export interface AnthropicUsageOut {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  /** Tollgate's addition: what the request cost, in USD. */
  cost?: number;
}

export type ResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

export interface AnthropicMessageOut {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ResponseBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicUsageOut;
}

/** Anthropic counts input beside cache reads and writes; Tollgate's usage (OpenAI's convention) includes them. */
export function toAnthropicUsage(u: TokenUsage | undefined, cost?: number): AnthropicUsageOut {
  const read = u?.cacheReadTokens ?? 0;
  const write = u?.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, (u?.inputTokens ?? 0) - read - write),
    output_tokens: u?.outputTokens ?? 0,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    ...(cost !== undefined ? { cost } : {}),
  };
}

export function stopReason(finish: FinishReason | null | undefined): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

export function newMessageId(): string {
  return `msg_${crypto.randomUUID().replace(/-/g, '')}`;
}

/** One SSE event as Anthropic writes it: `event:` line, `data:` line. */
export function sseEvent(type: string, data: unknown): Uint8Array {
  return Buffer.from(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`, 'utf8');
}

/** The Anthropic error type for a status (the SDKs pick their exception class by status; the type names it). */
function errorType(status: number): string {
  switch (status) {
    case 400:
    case 405:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export function anthropicErrorBody(error: GatewayError): AnthropicErrorBody {
  return { type: 'error', error: { type: errorType(error.status), message: error.message } };
}

export function anthropicStreamError(error: GatewayError): Uint8Array {
  return sseEvent('error', anthropicErrorBody(error));
}
