/**
 * An OpenAI-compatible upstream on loopback: `POST /v1/embeddings` (embeddings-double.ts), `POST /v1/responses` (responses-double.ts) and `POST /v1/chat/completions`, JSON or SSE (role chunk, content
 * chunks, streamed tool_call deltas, finish chunk, usage chunk when `stream_options.include_usage`, `[DONE]`).
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
import { renderOpenAIEmbeddings } from './embeddings-double';
import { renderResponses } from './responses-double';

export type { DoubleBehaviour, DoubleOptions, UpstreamDouble } from './http-double';

const CREATED = 1_700_000_000;

export function startOpenAIDouble(opts: DoubleOptions = {}): Promise<UpstreamDouble> {
  return startHttpDouble(render, opts);
}

interface RequestView {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  /** The output cap the request forwarded (max_completion_tokens or max_tokens), if any. */
  maxTokens?: number;
}

function view(request: RecordedRequest): RequestView {
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  return {
    model: typeof body.model === 'string' ? body.model : 'unknown-model',
    stream: body.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    maxTokens: [body.max_completion_tokens, body.max_tokens].find((v): v is number => typeof v === 'number'),
  };
}

/** The usage an `ok` behaviour bills (and records on the request). */
function billedUsage(b: Extract<DoubleBehaviour, { kind: 'ok' }>, req: RequestView, request: RecordedRequest): DoubleUsage | null {
  const usage = b.runsToCap
    ? { promptTokens: b.runsToCap.promptTokens, completionTokens: req.maxTokens ?? b.runsToCap.defaultMaxTokens }
    : b.usage === null
      ? null
      : (b.usage ?? DEFAULT_USAGE);
  if (usage) request.billed = usage;
  return usage;
}

async function render(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest): Promise<void> {
  const req = view(request);
  if (b.kind === 'status') {
    w.json(b.status, {
      error: { message: b.message ?? `double says ${b.status}`, type: b.errorType ?? errorTypeFor(b.status), param: null, code: null },
    });
    return;
  }
  if (request.path.endsWith('/embeddings')) return renderOpenAIEmbeddings(w, b, request);
  if (request.path.endsWith('/responses')) return renderResponses(w, b, request);
  if (!req.stream) return renderJson(w, b, req, request);
  return renderStream(w, b, req, request);
}

async function renderJson(w: ResponseWriter, b: DoubleBehaviour, req: RequestView, request: RecordedRequest): Promise<void> {
  if (b.kind === 'hang' || b.kind === 'status') return;
  if (b.kind === 'streamError') {
    w.json(500, { error: { message: b.message ?? 'The server had an error', type: 'server_error', param: null, code: null } });
    return;
  }
  const text = b.kind === 'ok' && b.toolCalls && b.text === undefined ? null : fullText(b);
  const completion = {
    id: 'chatcmpl-double',
    object: 'chat.completion',
    created: CREATED,
    model: req.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text,
          ...(b.kind === 'ok' && b.toolCalls
            ? { tool_calls: b.toolCalls.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
            : {}),
        },
        finish_reason: b.kind === 'ok' ? (b.finishReason ?? (b.toolCalls ? 'tool_calls' : 'stop')) : 'stop',
        logprobs: null,
      },
    ],
    ...usageField(b.kind === 'ok' ? billedUsage(b, req, request) : DEFAULT_USAGE),
  };
  const body = JSON.stringify(completion);
  if (b.kind === 'dropMidStream') {
    w.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    await w.write(body.slice(0, Math.floor(body.length / 2)));
    return w.drop();
  }
  if (b.kind === 'malformedChunk') {
    w.res.writeHead(200, { 'content-type': 'application/json' });
    w.res.end(body.slice(0, Math.floor(body.length / 2)));
    return;
  }
  w.json(200, completion);
}

function usageField(u: DoubleUsage | null): { usage?: ReturnType<typeof openaiUsage> } {
  return u ? { usage: openaiUsage(u) } : {};
}

async function renderStream(w: ResponseWriter, b: DoubleBehaviour, req: RequestView, request: RecordedRequest): Promise<void> {
  if (b.kind === 'hang' || b.kind === 'status') return;
  w.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion.chunk', created: CREATED, model: req.model, system_fingerprint: 'fp_double', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;

  if (!(await w.write(chunk({ role: 'assistant', content: '', refusal: null })))) return;
  const toolCalls = b.kind === 'ok' ? b.toolCalls : undefined;
  const pieces = toolCalls && b.text === undefined ? [] : textPieces(b);
  const limit = b.kind === 'ok' ? pieces.length : Math.min(pieces.length, b.afterChunks ?? 1);
  const delay = b.chunkDelayMs ?? 0;
  for (let i = 0; i < limit; i++) {
    if (delay > 0 && !(await w.sleep(delay))) return;
    if (!(await w.write(chunk({ content: pieces[i] })))) return;
  }
  if (b.kind === 'dropMidStream') return w.drop();
  if (b.kind === 'malformedChunk') {
    await w.write('data: {"id":"chatcmpl-double","choices":[{"delta":{"content":"tru\n\n');
    w.res.end();
    return;
  }
  if (b.kind === 'streamError') {
    await w.write(`data: ${JSON.stringify({ error: { message: b.message ?? 'The server had an error while processing your request.', type: b.errorType ?? 'server_error' } })}\n\n`);
    w.res.end();
    return;
  }
  for (const [index, call] of (toolCalls ?? []).entries()) {
    const opening = { index, id: call.id ?? `call_${index}`, type: 'function', function: { name: call.name, arguments: '' } };
    if (!(await w.write(chunk({ tool_calls: [opening] })))) return;
    for (const piece of argumentPieces(call.arguments)) {
      if (!(await w.write(chunk({ tool_calls: [{ index, function: { arguments: piece } }] })))) return;
    }
  }
  if (b.kind !== 'ok') return;
  if (!(await w.write(chunk({}, b.finishReason ?? (toolCalls ? 'tool_calls' : 'stop'))))) return;
  const billed = billedUsage(b, req, request);
  if (req.includeUsage && billed) {
    const usageChunk = { id: 'chatcmpl-double', object: 'chat.completion.chunk', created: CREATED, model: req.model, system_fingerprint: 'fp_double', choices: [], usage: openaiUsage(billed) };
    if (!(await w.write(`data: ${JSON.stringify(usageChunk)}\n\n`))) return;
  }
  await w.write('data: [DONE]\n\n');
  w.res.end();
}

export function openaiUsage(u: DoubleUsage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function errorTypeFor(status: number): string {
  if (status === 429) return 'rate_limit_exceeded';
  if (status === 401) return 'invalid_request_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
