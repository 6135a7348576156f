/** Server-sent events as OpenAI writes them: `data: <json>\n\n`, ending with `data: [DONE]\n\n`. */
import type { OpenAIErrorBody } from '../core/errors';
import type { ChatCompletionChunk } from '../core/openai-schema';
import { rawJsonOf } from '../providers/shared/chunks';

const encoder = new TextEncoder();
export const SSE_DONE = encoder.encode('data: [DONE]\n\n');

/**
 * One chunk as an SSE event; a chunk relayed unchanged from the upstream keeps the upstream's JSON text.
 * Buffer.from, unlike TextEncoder, encodes small strings into Node's shared pool (no allocation per chunk);
 * the relay only enqueues and writes these bytes, it never transfers their ArrayBuffer.
 */
export function sseChunk(chunk: ChatCompletionChunk): Uint8Array {
  return Buffer.from(`data: ${rawJsonOf(chunk) ?? JSON.stringify(chunk)}\n\n`, 'utf8');
}

/** openai-node throws an APIError when an event's data carries `error`, so clients see the failure. */
export function sseError(body: OpenAIErrorBody): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
}

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};
