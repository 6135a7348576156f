/**
 * A small HTTP/1.1 keep-alive client for the lean DynamoDB transport (whole responses: `request`) and the
 * providers' HTTP calls (streamed responses: `stream`): one request in flight per socket,
 * at most `maxSockets` sockets (requests beyond that wait in order), the most recently used idle socket
 * first (it is the warm one), idle sockets unref'd so they never keep a process alive.
 *
 * Why not node:http or undici: the store makes two or three small requests per gateway request, and each
 * node:http exchange (ClientRequest, the agent's bookkeeping, IncomingMessage, per-header callbacks) costs
 * this process ~1.6× the CPU of the same exchange on this client (`npx tsx bench/store-http.ts`: ratio
 * 0.59–0.62, 2026-12-02); undici 7's Pool, tried the same way, was no cheaper than node:http for this
 * shape. DynamoDB's protocol needs little of HTTP: `POST /` with a JSON body, answered with a status, a
 * few headers and a JSON body framed by Content-Length (chunked and read-to-close framing are handled
 * too, for proxies and emulators).
 *
 * Failures look like node's: a socket error keeps its code (ECONNRESET, EPIPE, ECONNREFUSED); a socket that
 * closes before the response is complete fails with `socket hang up` (ECONNRESET), as node:http does.
 */
import { channel } from 'node:diagnostics_channel';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface Http1PoolOptions {
  https: boolean;
  hostname: string;
  /** Defaults to 443 / 80. */
  port?: number;
  maxSockets: number;
  /** 0: no connect timeout. */
  connectTimeoutMs: number;
  /** A request with no socket activity for this long fails (TimeoutError, or `inactivityError`'s). */
  inactivityTimeoutMs: number;
  /** The error a silent request fails with. */
  inactivityError?: () => Error;
  /** Idle sockets are closed after this long (before servers close them under a request); 0: kept. */
  idleTimeoutMs?: number;
  /** Trust these certificate authorities instead of Node's (a private endpoint's CA; tests). */
  ca?: string | Buffer;
  /** Makes the socket (tests: one that never connects). */
  connect?: () => Socket;
}

export interface Http1Response {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

/** A response whose body is read as it arrives. */
export interface Http1Stream {
  status: number;
  headers: Record<string, string>;
  /** The body's bytes (framing removed); fails if the connection breaks or the call is aborted. */
  body: AsyncIterable<Buffer>;
  /**
   * Stops the call: a response still arriving closes its socket and its body fails with `reason`; a
   * response complete already changes nothing (its socket went back to the pool).
   */
  abort(reason?: Error): void;
}

/** Where a response's body goes. */
interface Sink {
  data(chunk: Buffer): void;
  end(): void;
  error(err: Failure): void;
}

/**
 * Published when a request's bytes are handed to its socket, as node:http's `http.client.request.start`
 * (which this client does not go through): `{ origin, method, path }`. Free while nobody subscribes.
 */
export const REQUEST_START_CHANNEL = 'tollgate.http1.request.start';
const requestStart = channel(REQUEST_START_CHANNEL);
/** Published when a response head has been read (as `http.client.response.finish`): `{ origin, method, path, status }`. */
export const RESPONSE_HEAD_CHANNEL = 'tollgate.http1.response.head';
const responseHead = channel(RESPONSE_HEAD_CHANNEL);

/** The most bytes of a response head (status line and headers) accepted; DynamoDB's are well under 2 KB. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

type Failure = Error & { code?: string };

/** node:http's checks (checkInvalidHeaderChar, checkIsHttpToken). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;

function failure(message: string, code?: string, name?: string): Failure {
  const err: Failure = new Error(message);
  if (code) err.code = code;
  if (name) err.name = name;
  return err;
}

interface Job {
  head: string;
  body: Buffer;
  /** For the request-start channel. */
  method: string;
  path: string;
  /** The head arrived: where its body goes. */
  onHead(status: number, headers: Record<string, string>, conn: Connection): Sink;
  /** Failed before a head arrived. */
  reject(err: Failure): void;
}

/** Where a response is in its parse. */
const enum Stage {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
}

class Connection {
  job: Job | undefined;
  private sink: Sink | undefined;
  private stage = Stage.Head;
  private buffered: Buffer | undefined;
  private remaining = 0;
  private keepAlive = true;
  private connectTimer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly pool: Http1Pool,
    connectTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    // TCP keep-alive probes on a socket kept between requests, as node's keep-alive agent sets them (once here,
    // where the agent sets them at every release): a peer that vanished behind a NAT is found out.
    socket.setKeepAlive(true, 1_000);
    if (connectTimeoutMs > 0 && socket.connecting) {
      this.connectTimer = setTimeout(() => {
        this.fail(failure(`the request socket did not establish a connection with the server within the configured timeout of ${connectTimeoutMs} ms.`, undefined, 'TimeoutError'));
      }, connectTimeoutMs);
      socket.once('connect', () => clearTimeout(this.connectTimer));
    }
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Failure) => this.fail(err));
    socket.on('close', () => this.onClose());
    socket.on('timeout', () => {
      const make = pool.options.inactivityError;
      this.fail(make ? make() : failure(`the request socket timed out after ${pool.options.inactivityTimeoutMs} ms of inactivity.`, undefined, 'TimeoutError'));
    });
  }

  start(job: Job, inactivityTimeoutMs: number): void {
    this.job = job;
    this.sink = undefined;
    this.stage = Stage.Head;
    this.buffered = undefined;
    this.keepAlive = true;
    this.socket.ref();
    this.socket.setTimeout(inactivityTimeoutMs);
    if (requestStart.hasSubscribers) requestStart.publish({ origin: this.pool.origin, method: job.method, path: job.path });
    // One write: the head and a small body leave in one segment (corked), a large body right after it.
    this.socket.cork();
    this.socket.write(job.head, 'latin1');
    if (job.body.length > 0) this.socket.write(job.body);
    this.socket.uncork();
  }

  private onData(data: Buffer): void {
    if (!this.job) {
      // Bytes nobody asked for (a server talking out of turn): this socket's framing can no longer be trusted.
      this.destroy();
      return;
    }
    const buf = this.buffered ? Buffer.concat([this.buffered, data]) : data;
    this.buffered = undefined;
    let rest: Buffer;
    try {
      rest = this.parse(buf);
    } catch (err) {
      this.fail(err as Failure);
      return;
    }
    if (this.job) {
      if (rest.length > 0) this.buffered = rest;
      return;
    }
    // Complete. Bytes after it (HTTP/1.1 without pipelining never sends any) make the socket untrustworthy.
    if (this.keepAlive && rest.length === 0 && !this.closed) this.pool.release(this);
    else this.destroy();
  }

  /** Consumes what it can of `buf`; returns the unconsumed rest (a partial line or head). */
  private parse(buf: Buffer): Buffer {
    let at = 0;
    while (this.job && at < buf.length) {
      switch (this.stage) {
        case Stage.Head: {
          const end = buf.indexOf(CRLF2, at);
          if (end < 0) {
            if (buf.length - at > MAX_HEAD_BYTES) throw failure('response head too large', 'HPE_HEADER_OVERFLOW');
            return buf.subarray(at);
          }
          this.readHead(buf.toString('latin1', at, end));
          at = end + 4;
          break;
        }
        case Stage.Length:
        case Stage.ChunkData: {
          // Up to `remaining` body bytes (of the whole body, or of this chunk) go to the reader.
          const n = Math.min(this.remaining, buf.length - at);
          this.sink?.data(buf.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining > 0) break;
          if (this.stage === Stage.Length) this.complete();
          else this.stage = Stage.ChunkDataEnd;
          break;
        }
        case Stage.ChunkSize: {
          const eol = buf.indexOf('\r\n', at, 'latin1');
          if (eol < 0) return this.partialLine(buf, at);
          // Hex digits, then optional `;extensions` (ignored), as llhttp reads them.
          const digits = buf.toString('latin1', at, eol).split(';')[0].trim();
          if (!/^[0-9a-fA-F]{1,13}$/.test(digits)) throw failure('invalid chunk size in response', 'HPE_INVALID_CHUNK_SIZE');
          const size = Number.parseInt(digits, 16);
          at = eol + 2;
          this.remaining = size;
          this.stage = size === 0 ? Stage.Trailers : Stage.ChunkData;
          break;
        }
        case Stage.ChunkDataEnd: {
          if (buf.length - at < 2) return buf.subarray(at);
          if (buf[at] !== 13 || buf[at + 1] !== 10) throw failure('invalid chunk terminator in response', 'HPE_INVALID_CHUNK_SIZE');
          at += 2;
          this.stage = Stage.ChunkSize;
          break;
        }
        case Stage.Trailers: {
          const eol = buf.indexOf('\r\n', at, 'latin1');
          if (eol < 0) return this.partialLine(buf, at);
          const empty = eol === at;
          at = eol + 2;
          if (empty) this.complete(); // trailers themselves are ignored
          break;
        }
        case Stage.UntilClose:
          this.sink?.data(buf.subarray(at));
          at = buf.length;
          break;
      }
    }
    return buf.subarray(at);
  }

  private partialLine(buf: Buffer, at: number): Buffer {
    if (buf.length - at > MAX_HEAD_BYTES) throw failure('response line too long', 'HPE_HEADER_OVERFLOW');
    return buf.subarray(at);
  }

  private readHead(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!m) throw failure('invalid HTTP response status line', 'HPE_INVALID_CONSTANT');
    const status = Number(m[2]);
    // No prototype: a header named `constructor` or `__proto__` is just a header.
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) throw failure('invalid HTTP response header', 'HPE_INVALID_HEADER_TOKEN');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
    }
    // 1xx (100 Continue, 103): an interim head; the real one follows.
    if (status >= 100 && status < 200) return;
    if (responseHead.hasSubscribers && this.job) responseHead.publish({ origin: this.pool.origin, method: this.job.method, path: this.job.path, status });
    this.sink = this.job?.onHead(status, headers, this);
    const connection = (headers.connection ?? '').toLowerCase();
    this.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (status === 204 || status === 304) return this.complete();
    if (te.length > 0) {
      if (!te.endsWith('chunked')) {
        this.keepAlive = false;
        this.stage = Stage.UntilClose;
        return;
      }
      this.stage = Stage.ChunkSize;
      return;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      if (!/^\d+$/.test(length)) throw failure('invalid Content-Length in response', 'HPE_UNEXPECTED_CONTENT_LENGTH');
      this.remaining = Number(length);
      if (this.remaining === 0) return this.complete();
      this.stage = Stage.Length;
      return;
    }
    this.keepAlive = false;
    this.stage = Stage.UntilClose;
  }

  private complete(): void {
    const sink = this.sink;
    this.job = undefined;
    this.sink = undefined;
    sink?.end();
  }

  private onEnd(): void {
    // Read-to-close framing ends here; anything else mid-response is a hang-up.
    if (this.job && this.stage === Stage.UntilClose) {
      this.complete();
      this.destroy();
      return;
    }
    this.fail(failure('socket hang up', 'ECONNRESET'));
  }

  private onClose(): void {
    this.fail(failure('socket hang up', 'ECONNRESET'));
  }

  /** Fails the request in flight (if any: before its head, or its body) and drops the socket. */
  fail(err: Failure): void {
    const job = this.job;
    const sink = this.sink;
    this.job = undefined;
    this.sink = undefined;
    this.destroy();
    if (sink) sink.error(err);
    else job?.reject(err);
  }

  destroy(): void {
    clearTimeout(this.connectTimer);
    if (!this.closed) {
      this.closed = true;
      this.pool.forget(this);
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Job[] = [];
  private tlsSession: Buffer | undefined;
  private destroyed = false;
  /** `Host` and the fixed part of every head. */
  private readonly host: string;

  constructor(readonly options: Http1PoolOptions) {
    const port = options.port ?? (options.https ? 443 : 80);
    const defaultPort = options.https ? 443 : 80;
    const name = isIP(options.hostname) === 6 ? `[${options.hostname}]` : options.hostname;
    this.host = port === defaultPort ? name : `${name}:${port}`;
  }

  /** The Host header value this pool sends (what a signature must name). */
  get hostHeader(): string {
    return this.host;
  }

  /** `http(s)://host[:port]`, as the request-start channel names it. */
  get origin(): string {
    return `${this.options.https ? 'https' : 'http'}://${this.host}`;
  }

  /** Sends `method path` with these headers (Host, when not given, and Connection are added) and body; the whole response. */
  request(method: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      this.send(method, path, headers, body, reject, (status, responseHeaders) => {
        const parts: Buffer[] = [];
        return {
          data: (chunk) => parts.push(chunk),
          end: () => resolve({ status, headers: responseHeaders, body: parts.length === 1 ? parts[0] : Buffer.concat(parts) }),
          error: reject,
        };
      });
    });
  }

  /**
   * As `request`, resolving at the response head with the body to read as it arrives. `signal` aborts the
   * call (before the head: the promise rejects with its reason; after: as `abort`).
   */
  stream(method: string, path: string, headers: Record<string, string>, body: string | Buffer, signal?: AbortSignal): Promise<Http1Stream> {
    return new Promise<Http1Stream>((resolve, reject) => {
      let conn: Connection | undefined;
      const abort = (reason?: Error) => {
        const err: Failure = reason ?? failure('the request was aborted', 'ABORT_ERR', 'AbortError');
        // Only while this call owns the connection: a complete response's socket may carry another call now.
        if (conn && conn.job === job) conn.fail(err);
        else if (!conn) this.cancel(job, err);
      };
      const onAbort = () => abort(signalReason(signal));
      if (signal?.aborted) return reject(signalReason(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      const job: Job | undefined = this.send(
        method,
        path,
        headers,
        body,
        (err) => {
          done();
          reject(err);
        },
        (status, responseHeaders, c) => {
          conn = c;
          const queue = new BodyQueue(c, () => conn?.job === job, done);
          resolve({ status, headers: responseHeaders, body: queue, abort });
          return queue;
        },
      );
    });
  }

  private send(method: string, path: string, headers: Record<string, string>, body: string | Buffer, reject: (err: Failure) => void, onHead: Job['onHead']): Job | undefined {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${headers.host ?? this.host}\r\nconnection: keep-alive\r\n`;
    for (const name in headers) {
      const value = headers[name];
      // As node:http refuses them: a value that could end the head early (one header injecting others), a
      // control character, or a character the head's latin1 bytes cannot carry; a name that is not a token.
      if (INVALID_VALUE.test(value) || !TOKEN.test(name)) {
        reject(failure(`invalid header ${JSON.stringify(name)}`, 'ERR_INVALID_CHAR'));
        return undefined;
      }
      if (name !== 'host' && name !== 'connection') head += `${name}: ${value}\r\n`;
    }
    head += '\r\n';
    if (this.destroyed) {
      reject(failure('the HTTP pool was destroyed', 'ERR_HTTP_POOL_DESTROYED'));
      return undefined;
    }
    const job: Job = { head, body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body, method, path, reject, onHead };
    const conn = this.idle.pop();
    if (conn) this.run(conn, job);
    else if (this.all.size < this.options.maxSockets) this.run(this.open(), job);
    else this.queue.push(job);
    return job;
  }

  /** A job that has no connection yet (queued) fails now; one already sent is failed through its connection. */
  private cancel(job: Job | undefined, err: Failure): void {
    if (!job) return;
    const i = this.queue.indexOf(job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      job.reject(err);
      return;
    }
    for (const conn of this.all) if (conn.job === job) return conn.fail(err);
  }

  /** Closes every socket; queued requests fail. */
  destroy(): void {
    this.destroyed = true;
    for (const job of this.queue.splice(0)) job.reject(failure('the HTTP pool was destroyed', 'ERR_HTTP_POOL_DESTROYED'));
    for (const conn of [...this.all]) conn.fail(failure('the HTTP pool was destroyed', 'ERR_HTTP_POOL_DESTROYED'));
  }

  /** Sockets open now (idle and busy), for tests. */
  get size(): number {
    return this.all.size;
  }

  private run(conn: Connection, job: Job): void {
    conn.start(job, this.options.inactivityTimeoutMs);
  }

  private open(): Connection {
    const { https, hostname, connectTimeoutMs } = this.options;
    const port = this.options.port ?? (https ? 443 : 80);
    let socket: Socket;
    if (this.options.connect) socket = this.options.connect();
    else if (https) {
      const tls = tlsConnect({ host: hostname, port, servername: isIP(hostname) ? undefined : hostname, ALPNProtocols: ['http/1.1'], session: this.tlsSession, ...(this.options.ca ? { ca: this.options.ca } : {}) });
      tls.on('session', (session: Buffer) => (this.tlsSession = session));
      socket = tls;
    } else socket = netConnect({ host: hostname, port });
    const conn = new Connection(socket, this, connectTimeoutMs);
    this.all.add(conn);
    return conn;
  }

  /** A connection finished its response and can carry another. */
  release(conn: Connection): void {
    const next = this.queue.shift();
    if (next) return this.run(conn, next);
    conn.socket.setTimeout(this.options.idleTimeoutMs ?? 0);
    conn.socket.unref();
    this.idle.push(conn);
  }

  /** A connection closed: out of the pool; a waiting request gets a new one. */
  forget(conn: Connection): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.queue.shift();
    if (next && !this.destroyed) this.run(this.open(), next);
  }
}

function signalReason(signal: AbortSignal | undefined): Failure {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : failure('the request was aborted', 'ABORT_ERR', 'AbortError');
}

/** Unread body bytes past which the socket stops reading (TCP pushes back on the server). */
const BODY_HIGH_WATER = 64 * 1024;

/**
 * A streamed body: the connection pushes parts, the reader pulls them. Past BODY_HIGH_WATER unread bytes
 * the socket is paused until the reader catches up. A reader that leaves early (`return`) aborts the call.
 */
class BodyQueue implements Sink, AsyncIterable<Buffer> {
  private parts: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private failed: Failure | undefined;
  private waiting: { resolve(r: IteratorResult<Buffer>): void; reject(err: Failure): void } | undefined;
  private paused = false;

  constructor(
    private readonly conn: Connection,
    /** Whether the connection still carries this response (it moves on once the response is complete). */
    private readonly owns: () => boolean,
    private readonly finished: () => void,
  ) {}

  data(chunk: Buffer): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ done: false, value: chunk });
      return;
    }
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > BODY_HIGH_WATER && !this.paused && this.owns()) {
      this.paused = true;
      this.conn.socket.pause();
    }
  }

  end(): void {
    this.ended = true;
    this.finished();
    this.resume();
    if (this.waiting && this.parts.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ done: true, value: undefined });
    }
  }

  error(err: Failure): void {
    this.failed = err;
    this.finished();
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.reject(err);
    }
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // The socket may serve another call by now (paused past the end: never, as parts stop at the end).
    if (this.owns() || this.ended) this.conn.socket.resume();
  }

  private next(): Promise<IteratorResult<Buffer>> {
    const part = this.parts.shift();
    if (part) {
      this.bytes -= part.length;
      if (this.bytes <= BODY_HIGH_WATER / 2) this.resume();
      return Promise.resolve({ done: false, value: part });
    }
    if (this.failed) return Promise.reject(this.failed);
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.next(),
      return: async () => {
        // Leaving early: the rest is not wanted (a complete response's socket is already back in the pool).
        if (!this.ended && !this.failed && this.owns()) this.conn.fail(failure('the response body was not read to its end', 'ABORT_ERR', 'AbortError'));
        this.parts = [];
        return { done: true, value: undefined };
      },
    };
  }
}
