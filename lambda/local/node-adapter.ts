/**
 * Node `http` ⇄ fetch adapter for the local server: turns an IncomingMessage into a Request whose signal
 * aborts when the client goes away, and writes the Response back chunk by chunk (no buffering beyond the
 * current tick: chunks produced together share one socket write), honouring backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drained } from '../app/drained';
import { bodyReader, hasBody, type BodyReader } from '../app/relay';
import type { GatewayApp, GatewayRequest } from '../app/gateway-app';

export interface NodeListenerOptions {
  /** Called with work the app deferred (settlement); the server tracks it for graceful shutdown. */
  track?: (promise: Promise<unknown>) => void;
}

export function createNodeListener(app: GatewayApp, opts: NodeListenerOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    // The response itself is tracked too: a stream cut by a shutdown settles only once its relay has seen
    // the cancel, and the server must not close the store before that settlement was handed over.
    const serving = serve(app, req, res, opts).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' } }));
      } else {
        res.destroy();
      }
    });
    opts.track?.(serving);
  };
}

async function serve(app: GatewayApp, req: IncomingMessage, res: ServerResponse, opts: NodeListenerOptions): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort(new Error('client disconnected'));
  });

  const requestHasBody = req.method !== 'GET' && req.method !== 'HEAD';
  let request: GatewayRequest;
  try {
    // Origin-form targets only: an absolute-form or `*` target, an invalid Host or a method fetch refuses
    // (TRACE, CONNECT) is the client's mistake, answered 400 in OpenAI's shape, never a 500.
    if (!(req.url ?? '/').startsWith('/')) throw new Error('request target is not origin-form');
    const method = req.method ?? 'GET';
    if (FORBIDDEN_METHODS.has(method)) throw new Error(`method ${method} is not served`);
    const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
    new URL(url); // throws on an invalid Host
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    request = { method, url, headers, signal: abort.signal, body: null, ...(requestHasBody ? { chunks: req } : {}) };
  } catch {
    const body = JSON.stringify({ error: { message: 'The request line or Host header is not valid.', type: 'invalid_request_error', param: null, code: 'bad_http_request' } });
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
    res.end(body);
    req.resume();
    return;
  }

  const response = await app.fetch(request, { waitUntil: (p) => opts.track?.(p) });
  // The status and headers leave with the first body bytes, as in the Lambda runtime: headers the app sets
  // until then (the target that serves a stream committed before it opened) are sent too.
  const writeHead = () => {
    if (res.headersSent) return;
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, key) => (outHeaders[key] = value));
    res.writeHead(response.status, outHeaders);
  };
  if (!hasBody(response)) {
    writeHead();
    res.end();
    return;
  }
  const reader = bodyReader(response) as BodyReader;
  const batch = new WriteBatch(res);
  // A client that leaves cancels the stream at once (the upstream stops, settlement starts), not at the
  // upstream's next chunk, which may be far away; the pending read then ends as done.
  let cancelling: Promise<void> | undefined;
  const cancel = () => (cancelling ??= reader.cancel().catch(() => undefined));
  abort.signal.addEventListener('abort', () => void cancel(), { once: true });
  try {
    for (;;) {
      if (abort.signal.aborted) {
        await cancel();
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        if (cancelling) return void (await cancelling);
        break;
      }
      writeHead();
      if (!batch.write(value) && !batch.flush()) await drained(res, abort.signal);
    }
    batch.flush();
    writeHead();
    res.end();
  } catch {
    await reader.cancel().catch(() => undefined);
    res.destroy();
  }
}

/** Methods a fetch Request refuses (the app was written against fetch's contract). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * Chunks written in the same tick leave as one write: they are gathered and written together on
 * process.nextTick, i.e. as soon as the relay stops producing synchronously (it waits on the upstream or
 * on the client). Nothing waits for data that has not arrived yet. One write per batch also means one
 * chunked-encoding frame and one socket write instead of one per SSE event.
 */
class WriteBatch {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  private readonly onTick = () => {
    this.flush();
  };

  constructor(private readonly res: ServerResponse) {}

  /** Queues `chunk` for this tick's write; false means flush() and wait for 'drain' before writing more. */
  write(chunk: Uint8Array): boolean {
    if (this.parts.length === 0) process.nextTick(this.onTick);
    this.parts.push(chunk);
    this.bytes += chunk.byteLength;
    return this.res.writableLength + this.bytes < this.res.writableHighWaterMark;
  }

  /** Writes what is queued now; false when the response's buffer is full (wait for 'drain'). */
  flush(): boolean {
    if (this.parts.length === 0) return !this.res.writableNeedDrain;
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    if (this.res.writableEnded || this.res.destroyed) return false;
    return this.res.write(data);
  }
}
