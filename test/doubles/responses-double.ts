/**
 * OpenAI's Responses API for the OpenAI double (`POST /v1/responses`): a Response object, or the real
 * event sequence (`event:` names and typed `data:` with sequence numbers): response.created,
 * response.in_progress, output_item.added / content_part.added / output_text.delta … done for text,
 * function_call_arguments.delta … done for tool calls, response.completed with usage (cached and
 * reasoning tokens). `streamError` sends an `error` event; `dropMidStream` cuts the connection.
 */
import { DEFAULT_USAGE, argumentPieces, fullText, textPieces, type DoubleBehaviour, type RecordedRequest, type ResponseWriter } from './http-double';

const CREATED = 1_700_000_000;

function usageOf(b: DoubleBehaviour) {
  if (b.kind === 'ok' && b.usage === null) return null;
  const u = (b.kind === 'ok' ? b.usage : undefined) ?? DEFAULT_USAGE;
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens ?? 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

export async function renderResponses(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest): Promise<void> {
  if (b.kind === 'hang' || b.kind === 'status') return;
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
  const model = typeof body.model === 'string' ? body.model : 'unknown-model';
  const calls = b.kind === 'ok' ? (b.toolCalls ?? []) : [];
  const withText = calls.length === 0 || b.text !== undefined;
  const text = fullText(b);
  const message = { type: 'message', id: 'msg_double', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
  const callItems = calls.map((c, i) => ({ type: 'function_call', id: `fc_double_${i}`, call_id: c.id ?? `call_${i}`, name: c.name, arguments: c.arguments, status: 'completed' }));
  const shell = { id: 'resp_double', object: 'response', created_at: CREATED, model, error: null, incomplete_details: null, store: false, tools: body.tools ?? [], metadata: {} };
  const usage = usageOf(b);
  const final = { ...shell, status: 'completed', output: [...(withText ? [message] : []), ...callItems], ...(usage ? { usage } : {}) };

  if (body.stream !== true) {
    if (b.kind === 'streamError') return w.json(500, { error: { message: b.message ?? 'The server had an error', type: 'server_error', param: null, code: null } });
    return w.json(200, final);
  }

  w.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  let seq = 0;
  const send = (data: Record<string, unknown>) => w.write(`event: ${String(data.type)}\ndata: ${JSON.stringify({ ...data, sequence_number: seq++ })}\n\n`);
  const progress = { ...shell, status: 'in_progress', output: [] };
  if (!(await send({ type: 'response.created', response: progress }))) return;
  if (!(await send({ type: 'response.in_progress', response: progress }))) return;
  let index = 0;
  if (withText) {
    if (!(await send({ type: 'response.output_item.added', output_index: 0, item: { ...message, status: 'in_progress', content: [] } }))) return;
    const part = { type: 'output_text', text: '', annotations: [], logprobs: [] };
    if (!(await send({ type: 'response.content_part.added', item_id: 'msg_double', output_index: 0, content_index: 0, part }))) return;
    const pieces = textPieces(b);
    const limit = b.kind === 'ok' ? pieces.length : Math.min(pieces.length, b.afterChunks ?? 1);
    for (let i = 0; i < limit; i++) {
      if ((b.chunkDelayMs ?? 0) > 0 && !(await w.sleep(b.chunkDelayMs ?? 0))) return;
      if (!(await send({ type: 'response.output_text.delta', item_id: 'msg_double', output_index: 0, content_index: 0, delta: pieces[i], logprobs: [] }))) return;
    }
    if (b.kind === 'dropMidStream') return w.drop();
    if (b.kind === 'streamError') {
      await send({ type: 'error', code: 'server_error', message: b.message ?? 'The server had an error while processing your request.', param: null });
      w.res.end();
      return;
    }
    if (b.kind === 'malformedChunk') {
      await w.write('event: response.output_text.delta\ndata: {"type":"response.output_te\n\n');
      w.res.end();
      return;
    }
    if (!(await send({ type: 'response.output_text.done', item_id: 'msg_double', output_index: 0, content_index: 0, text, logprobs: [] }))) return;
    if (!(await send({ type: 'response.content_part.done', item_id: 'msg_double', output_index: 0, content_index: 0, part: { ...part, text } }))) return;
    if (!(await send({ type: 'response.output_item.done', output_index: 0, item: message }))) return;
    index = 1;
  }
  for (const [i, item] of callItems.entries()) {
    const output_index = index + i;
    if (!(await send({ type: 'response.output_item.added', output_index, item: { ...item, arguments: '', status: 'in_progress' } }))) return;
    for (const delta of argumentPieces(item.arguments)) {
      if (!(await send({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index, delta }))) return;
    }
    if (!(await send({ type: 'response.function_call_arguments.done', item_id: item.id, output_index, name: item.name, arguments: item.arguments }))) return;
    if (!(await send({ type: 'response.output_item.done', output_index, item }))) return;
  }
  await send({ type: 'response.completed', response: final });
  w.res.end();
}
