/**
 * The local server: the same gateway app as in Lambda, served by Node's http module. Used by `npm start`,
 * the end-to-end tests and the benchmark.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
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
        ? [408, 'Request Timeout', 'The request (headers and body) was not received in time.']
        : [400, 'Bad Request', 'The request is not valid HTTP/1.1.'];
  const code = status === 408 ? 'request_timeout' : status === 431 ? 'headers_too_large' : 'bad_http_request';
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export interface ServeOptions {
  host?: string;
  port?: number;
  /**
   * Host names (no port) the `Host` header may name. Default: when bound to a loopback address, the
   * loopback names (a DNS-rebinding defence: a web page whose name resolves to 127.0.0.1 cannot talk to
   * the gateway); otherwise any. `['*']` allows any.
   */
  allowedHosts?: readonly string[];
  /** The whole request (headers and body, not the response) must arrive within this (ms); default 60 s. */
  requestTimeoutMs?: number;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'];

/** The host names a `Host` header may carry, or undefined for any. */
export function hostAllowList(bound: string, configured?: readonly string[]): ReadonlySet<string> | undefined {
  if (configured?.includes('*')) return undefined;
  const loopback = LOOPBACK_NAMES.includes(bound) || /^127\./.test(bound);
  if (!configured?.length && !loopback) return undefined;
  return new Set([...(loopback ? [...LOOPBACK_NAMES, bound] : []), ...(configured ?? [])].map((h) => h.toLowerCase()));
}

/** The name in a `Host` header (`[::1]:8787` → `::1`, `Localhost.:80` → `localhost`); undefined when malformed. */
function hostName(header: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/i.exec(header.trim());
  const name = m?.[1] ?? m?.[2];
  return name?.toLowerCase().replace(/\.$/, '');
}

function refuseHost(res: ServerResponse, allowed: ReadonlySet<string>): void {
  const body = JSON.stringify({
    error: {
      message: `This gateway answers only requests addressed to ${[...allowed].join(', ')} (the Host header). To reach it under another name, add the name to TOLLGATE_ALLOWED_HOSTS.`,
      type: 'invalid_request_error',
      param: null,
      code: 'host_not_allowed',
    },
  });
  res.writeHead(421, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  res.end(body);
}

export async function serveApp(app: GatewayApp, opts: ServeOptions = {}): Promise<RunningServer> {
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const settled = p.catch(() => undefined).finally(() => pending.delete(settled));
    pending.add(settled);
  };
  const listener = createNodeListener(app, { track });
  let draining = false;
  let active = 0;
  let onQuiet: (() => void) | undefined;
  const host = opts.host ?? '127.0.0.1';
  const allowedHosts = hostAllowList(host, opts.allowedHosts);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  // Node checks the timeouts below every `connectionsCheckingInterval` (30 s by default, so a stalled body
  // could live 90 s): check every second, or faster for a short timeout.
  const server = createServer({ connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs / 2) }, (req, res) => {
    // A request without Host (HTTP/1.0) comes from no browser: only a named host can be a rebinding.
    if (allowedHosts && req.headers.host !== undefined && !allowedHosts.has(hostName(req.headers.host) ?? '')) {
      req.resume();
      refuseHost(res, allowedHosts);
      return;
    }
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
  server.headersTimeout = Math.min(10_000, requestTimeoutMs);
  server.requestTimeout = requestTimeoutMs;
  // What Node rejects before the app sees it (bad framing, oversized headers, timeouts) gets an
  // OpenAI-shaped JSON error rather than Node's bare status line.
  server.on('clientError', answerClientError);
  server.keepAliveTimeout = 65_000;
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
