/**
 * An Anthropic Messages upstream on loopback: `POST /v1/messages`, JSON or the real SSE event sequence
 * (message_start, content_block_start/delta/stop with text_delta and input_json_delta, ping,
 * message_delta with cumulative usage, message_stop; `error` events).
 */
import {
  DEFAULT_USAGE,
  argumentPieces,
  fullText,
  startHttpDouble,
  textPieces,
  type DoubleBehaviour,
  type DoubleOptions,
  type DoubleUsage,
  type RecordedRequest,
  type ResponseWriter,
  type UpstreamDouble,
} from './http-double';

export type { DoubleBehaviour, DoubleOptions, UpstreamDouble } from './http-double';

export function startAnthropicDouble(opts: DoubleOptions = {}): Promise<UpstreamDouble> {
  return startHttpDouble(render, opts);
}

/** Anthropic reports uncached input beside the cache counts; the double's usage is in OpenAI terms. */
export function anthropicUsage(u: DoubleUsage) {
  const cacheRead = u.cachedTokens ?? 0;
  const cacheWrite = u.cacheWriteTokens ?? 0;
  return {
    input_tokens: u.promptTokens - cacheRead - cacheWrite,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: u.completionTokens,
  };
}

function errorTypeFor(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

async function render(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest): Promise<void> {
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
  const model = typeof body.model === 'string' ? body.model : 'claude-double';
  if (b.kind === 'status') {
    w.json(b.status, { type: 'error', error: { type: b.errorType ?? errorTypeFor(b.status), message: b.message ?? `double says ${b.status}` } });
    return;
  }
  if (b.kind === 'hang') return;
  const toolCalls = b.kind === 'ok' ? (b.toolCalls ?? []) : [];
  const withText = toolCalls.length === 0 || b.text !== undefined;
  const usage = b.kind === 'ok' ? b.usage : DEFAULT_USAGE;
  const stopReason = b.kind === 'ok' ? (b.finishReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn')) : 'end_turn';

  if (body.stream !== true) {
    if (b.kind === 'streamError') {
      w.json(529, { type: 'error', error: { type: 'overloaded_error', message: b.message ?? 'Overloaded' } });
      return;
    }
    const message = {
      id: 'msg_double',
      type: 'message',
      role: 'assistant',
      model,
      content: [
        ...(withText ? [{ type: 'text', text: fullText(b) }] : []),
        ...toolCalls.map((c, i) => ({ type: 'tool_use', id: c.id ?? `toolu_${i}`, name: c.name, input: JSON.parse(c.arguments) as unknown })),
      ],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: anthropicUsage(usage ?? DEFAULT_USAGE),
    };
    const text = JSON.stringify(message);
    if (b.kind === 'malformedChunk') {
      w.res.writeHead(200, { 'content-type': 'application/json' });
      w.res.end(text.slice(0, text.length / 2));
      return;
    }
    if (b.kind === 'dropMidStream') {
      w.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      await w.write(text.slice(0, text.length / 2));
      return w.drop();
    }
    w.json(200, message);
    return;
  }

  w.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const send = (event: string, data: unknown) => w.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const native = anthropicUsage(usage ?? DEFAULT_USAGE);
  const startUsage = { ...native, output_tokens: 1 };
  const ok = await send('message_start', {
    type: 'message_start',
    message: { id: 'msg_double', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage },
  });
  if (!ok) return;
  let blockIndex = 0;
  if (withText) {
    if (!(await send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }))) return;
    if (!(await send('ping', { type: 'ping' }))) return;
    const pieces = textPieces(b);
    const limit = b.kind === 'ok' ? pieces.length : Math.min(pieces.length, b.afterChunks ?? 1);
    const delay = b.chunkDelayMs ?? 0;
    for (let i = 0; i < limit; i++) {
      if (delay > 0 && !(await w.sleep(delay))) return;
      if (!(await send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: pieces[i] } }))) return;
    }
    if (b.kind === 'dropMidStream') return w.drop();
    if (b.kind === 'malformedChunk') {
      await w.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n');
      w.res.end();
      return;
    }
    if (b.kind === 'streamError') {
      await send('error', { type: 'error', error: { type: b.errorType ?? 'overloaded_error', message: b.message ?? 'Overloaded' } });
      w.res.end();
      return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index: 0 }))) return;
    blockIndex = 1;
  }
  for (const [i, call] of toolCalls.entries()) {
    const index = blockIndex + i;
    const start = { type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id ?? `toolu_${i}`, name: call.name, input: {} } };
    if (!(await send('content_block_start', start))) return;
    for (const piece of ['', ...argumentPieces(call.arguments)]) {
      if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }))) return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index }))) return;
  }
  // Cumulative usage, as the current API sends it (input and cache counts repeated, final output count).
  const deltaUsage = usage === null ? { output_tokens: 0 } : native;
  if (!(await send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: deltaUsage }))) return;
  await send('message_stop', { type: 'message_stop' });
  w.res.end();
}
