/**
 * The one HTTP call the HTTP adapters make: POST JSON, link the caller's signal to an internal abort
 * controller (so a stream can cancel its own request), map connection failures and non-2xx answers to
 * UpstreamError.
 *
 * Production calls go through the gateway's own HTTP/1.1 keep-alive client (core/http1-pool.ts), one pool
 * per origin, not the global fetch: fetch (undici) wraps every call in Request/Headers/Response objects and
 * web streams, and that was a fifth of the relay's CPU per request (bench/profile-path.ts); node:http's
 * ClientRequest/IncomingMessage cost more than the pool too. The body arrives as Node Buffers, read as an
 * async iterable. A URL with credentials in it goes through node:http (its Basic auth from the URL).
 * Tests may inject a `fetch` (FetchLike): the same contract is then served from a fetch Response.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { UpstreamError } from '../../core/errors';
import { Http1Pool } from '../../core/http1-pool';
import { copyOwn, merged } from '../../core/plain-object';
import { linkedAbortController } from './abort';
import { abortError, connectionError, upstreamStatusError } from './upstream-errors';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface PostJsonOptions {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal;
  fetch?: FetchLike;
  /** Pulls the human message out of the provider's error body (shapes differ per provider). */
  errorMessage: (body: unknown) => string | undefined;
  /** For scrubbing the key out of anything echoed back. */
  apiKey?: string;
}

export interface OpenResponse {
  status: number;
  /** The body's bytes as they arrive; fails when the connection breaks or the request is aborted. */
  body: AsyncIterable<Uint8Array>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Aborts the upstream request (and its body): call it when the consumer stops early. */
  abort: () => void;
}

/**
 * A socket silent this long (no response headers, or no body bytes mid-stream) is given up, as undici's
 * default headers/body timeouts did. Streams that go quiet for long are stopped earlier by the relay's
 * stall timeout (sse-keepalive.ts).
 */
export const UPSTREAM_IDLE_TIMEOUT_MS = 300_000;
/** Idle keep-alive sockets are closed after this (undici's default too), before servers close them under us. */
export const FREE_SOCKET_TIMEOUT_MS = 4_000;

const agentOptions = { keepAlive: true, timeout: FREE_SOCKET_TIMEOUT_MS, scheduling: 'lifo' as const };
const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };

/** One pool per origin (as an agent keeps sockets per host:port), no cap on sockets (the agents' default). */
const pools = new Map<string, Http1Pool>();

function poolFor(target: URL): Http1Pool {
  let pool = pools.get(target.origin);
  if (!pool) {
    const https = target.protocol === 'https:';
    pool = new Http1Pool({
      https,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port ? Number(target.port) : undefined,
      maxSockets: Number.POSITIVE_INFINITY,
      connectTimeoutMs: 0,
      inactivityTimeoutMs: UPSTREAM_IDLE_TIMEOUT_MS,
      inactivityError: () => Object.assign(new Error('upstream socket idle timeout'), { code: 'UPSTREAM_IDLE_TIMEOUT' }),
      idleTimeoutMs: FREE_SOCKET_TIMEOUT_MS,
    });
    pools.set(target.origin, pool);
  }
  return pool;
}

export async function postJson(opts: PostJsonOptions): Promise<OpenResponse> {
  const headers = copyOwn({ 'content-type': 'application/json', accept: 'application/json' }, opts.headers);
  const body = JSON.stringify(opts.body);
  let response: OpenResponse;
  try {
    response = opts.fetch ? await viaFetch(opts.fetch, opts.url, headers, body, opts.signal) : await viaPool(opts.url, headers, body, opts.signal);
  } catch (err) {
    if (opts.signal.aborted) throw abortError(opts.provider, opts.signal);
    throw connectionError(opts.provider, err);
  }
  if (response.status < 200 || response.status > 299) {
    const text = await readTextQuietly(response, opts.signal);
    response.abort();
    if (opts.signal.aborted) throw abortError(opts.provider, opts.signal);
    throw upstreamStatusError(opts.provider, response.status, messageFromBody(text, opts.errorMessage), opts.apiKey);
  }
  return response;
}

/** `signal` (the caller's) aborts the call; so does the answer's `abort()`, for a consumer that stops early. */
async function viaPool(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<OpenResponse> {
  const target = new URL(url);
  if (target.username || target.password || (target.protocol !== 'http:' && target.protocol !== 'https:')) return viaNode(url, headers, body, signal);
  const res = await poolFor(target).stream('POST', `${target.pathname}${target.search}`, merged(headers, { 'content-length': String(Buffer.byteLength(body)) }), body, signal);
  const abort = () => res.abort(Object.assign(new Error('upstream request aborted'), { code: 'ABORT_ERR' }));
  const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const chunks: AsyncIterable<Uint8Array> = encoding === '' || encoding === 'identity' ? res.body : decodedStream(Readable.from(res.body), encoding, abort);
  return { status: res.status, body: chunks, text: () => readAll(chunks), abort };
}

/** `signal` (the caller's) aborts the call; so does the answer's `abort()`, for a consumer that stops early. */
function viaNode(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<OpenResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const https = target.protocol === 'https:';
    let answer: IncomingMessage | undefined;
    // Not http.request's `signal` option: it destroys the socket even after the answer is complete, when
    // the socket may already be back in the pool. Destroying the request closes its socket; a body being
    // read then fails. Every byte in: nothing to stop, the unread rest is drained so the socket stays reusable.
    const abort = () => {
      signal.removeEventListener('abort', abort);
      if (answer?.complete) answer.resume();
      else req.destroy(Object.assign(new Error('upstream request aborted'), { code: 'ABORT_ERR' }));
    };
    const req = (https ? httpsRequest : httpRequest)(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: https ? agents.https : agents.http,
        timeout: UPSTREAM_IDLE_TIMEOUT_MS,
      },
      (res) => {
        answer = res;
        // Errors after the answer began reach whoever reads the body; until then nobody may be listening.
        res.on('error', () => undefined);
        const stream = decoded(res);
        resolve({ status: res.statusCode ?? 0, body: leavingAborts(stream, abort), text: () => readAll(stream), abort });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(Object.assign(new Error('upstream socket idle timeout'), { code: 'UPSTREAM_IDLE_TIMEOUT' })));
    if (signal.aborted) abort();
    else {
      signal.addEventListener('abort', abort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', abort));
    }
    req.end(body);
  });
}

/**
 * The body's chunks; a reader that leaves early (`return()`) aborts the call, which keeps the socket for
 * the next call when the answer had fully arrived (Node's own iterator would destroy it).
 */
function leavingAborts(stream: Readable, abort: () => void): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = stream.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
      return {
        next: () => it.next(),
        async return() {
          await it.return?.();
          abort();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** The gateway asks for no encoding; a server that compresses anyway is decoded, as fetch would. */
function decoded(res: IncomingMessage): Readable {
  return decodedStream(res, String(res.headers['content-encoding'] ?? '').trim().toLowerCase());
}

function decodedStream(source: Readable, encoding: string, abort?: () => void): Readable {
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  if (!decoder) return source;
  source.on('error', (err) => decoder.destroy(err));
  decoder.on('error', () => undefined);
  // A reader that leaves the decoded body early stops the call underneath.
  if (abort) decoder.on('close', () => source.readableEnded || abort());
  return source.pipe(decoder);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function viaFetch(doFetch: FetchLike, url: string, headers: Record<string, string>, body: string, parent: AbortSignal): Promise<OpenResponse> {
  const controller = linkedAbortController(parent);
  const response = await doFetch(url, { method: 'POST', headers, body, signal: controller.signal });
  return { status: response.status, body: webChunks(response.body), text: () => response.text(), abort: () => controller.abort() };
}

/** A web stream's chunks as an async iterable (none for no body); leaving early cancels the stream. */
export async function* webChunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
}

/** Reads a whole JSON body; a broken connection or invalid JSON becomes an UpstreamError. */
export async function readJson(provider: string, open: OpenResponse, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await open.text();
  } catch (err) {
    open.abort();
    if (signal.aborted) throw abortError(provider, signal);
    throw connectionError(provider, err, 'closed the connection before the response was complete');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UpstreamError(provider, `Provider '${provider}' sent a response that is not JSON.`, {
      code: 'upstream_malformed_response',
      cause: err,
    });
  }
}

async function readTextQuietly(response: OpenResponse, signal: AbortSignal): Promise<string> {
  if (signal.aborted) return '';
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function messageFromBody(text: string, extract: (body: unknown) => string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    return extract(JSON.parse(text)) ?? text;
  } catch {
    return text;
  }
}

/** `{"error": {"message": "..."}}` or `{"error": "..."}` or `{"message": "..."}`: the common shapes. */
export function commonErrorMessage(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (typeof error === 'string') return error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  if (typeof body.message === 'string') return body.message;
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
