/**
 * The local server: the same gateway app as in Lambda, served by Node's http module. Used by `npm start`,
 * the end-to-end tests and the benchmark.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GatewayApp } from '../app/gateway-app';
import { createNodeListener } from './node-adapter';

export interface RunningServer {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:8787/v1 */
  url: string;
  port: number;
  server: Server;
  /** Resolves when all deferred work (settlements) started so far has finished. */
  idle(): Promise<void>;
  /**
   * Graceful stop: stop accepting (new requests on open connections get a 503), let in-flight responses
   * finish for up to `graceMs`, then cut what is left and wait for every settlement.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request was not received in time.']
        : [400, 'Bad Request', 'The request is not valid HTTP/1.1.'];
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'bad_http_request' } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export async function serveApp(app: GatewayApp, opts: { host?: string; port?: number } = {}): Promise<RunningServer> {
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const settled = p.catch(() => undefined).finally(() => pending.delete(settled));
    pending.add(settled);
  };
  const listener = createNodeListener(app, { track });
  let draining = false;
  let active = 0;
  let onQuiet: (() => void) | undefined;
  const server = createServer((req, res) => {
    if (draining) {
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: { message: 'The gateway is shutting down; retry on another instance.', type: 'server_error', param: null, code: 'shutting_down' } }));
      return;
    }
    active++;
    res.once('close', () => {
      if (--active === 0) onQuiet?.();
    });
    listener(req, res);
  });
  // Headers must arrive within 10 s and the whole request (headers and body, not the response: long
  // generations stream for minutes) within 60 s, so slow-loris clients and stalled bodies are cut.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  // What Node rejects before the app sees it (bad framing, oversized headers, timeouts) gets an
  // OpenAI-shaped JSON error rather than Node's bare status line.
  server.on('clientError', answerClientError);
  server.keepAliveTimeout = 65_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const idle = async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return {
    url: `http://${host}:${port}/v1`,
    port,
    server,
    idle,
    async drain(graceMs: number) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onQuiet = resolve;
          timer = setTimeout(resolve, graceMs);
        });
        clearTimeout(timer);
      }
      server.closeAllConnections();
      await closed;
      await idle();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idle();
    },
  };
}
