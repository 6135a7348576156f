/**
 * A small HTTP/1.1 keep-alive client for the lean DynamoDB transport: one request in flight per socket,
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
  /** A request with no socket activity for this long fails (TimeoutError). */
  inactivityTimeoutMs: number;
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

/** The most bytes of a response head (status line and headers) accepted; DynamoDB's are well under 2 KB. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

type Failure = Error & { code?: string };

function failure(message: string, code?: string, name?: string): Failure {
  const err: Failure = new Error(message);
  if (code) err.code = code;
  if (name) err.name = name;
  return err;
}

interface Job {
  head: string;
  body: Buffer;
  resolve(res: Http1Response): void;
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
  private stage = Stage.Head;
  private buffered: Buffer | undefined;
  private status = 0;
  private headers: Record<string, string> = {};
  private parts: Buffer[] = [];
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
    socket.on('timeout', () => this.fail(failure(`the request socket timed out after ${pool.options.inactivityTimeoutMs} ms of inactivity.`, undefined, 'TimeoutError')));
  }

  start(job: Job, inactivityTimeoutMs: number): void {
    this.job = job;
    this.stage = Stage.Head;
    this.buffered = undefined;
    this.parts = [];
    this.headers = {};
    this.keepAlive = true;
    this.socket.ref();
    this.socket.setTimeout(inactivityTimeoutMs);
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
        case Stage.Length: {
          const n = Math.min(this.remaining, buf.length - at);
          this.parts.push(buf.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case Stage.ChunkSize: {
          const eol = buf.indexOf('\r\n', at, 'latin1');
          if (eol < 0) return this.partialLine(buf, at);
          const size = Number.parseInt(buf.toString('latin1', at, eol).split(';')[0].trim(), 16);
          if (!Number.isFinite(size) || size < 0) throw failure('invalid chunk size in response', 'HPE_INVALID_CHUNK_SIZE');
          at = eol + 2;
          this.remaining = size;
          this.stage = size === 0 ? Stage.Trailers : Stage.ChunkData;
          break;
        }
        case Stage.ChunkData: {
          const n = Math.min(this.remaining, buf.length - at);
          this.parts.push(buf.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.stage = Stage.ChunkDataEnd;
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
          this.parts.push(buf.subarray(at));
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
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) throw failure('invalid HTTP response header', 'HPE_INVALID_HEADER_TOKEN');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    // 1xx (100 Continue, 103): an interim head; the real one follows.
    if (status >= 100 && status < 200) return;
    this.status = status;
    this.headers = headers;
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
    const job = this.job;
    if (!job) return;
    this.job = undefined;
    const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    job.resolve({ status: this.status, headers: this.headers, body });
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

  /** Fails the request in flight (if any) and drops the socket. */
  fail(err: Failure): void {
    const job = this.job;
    this.job = undefined;
    this.destroy();
    job?.reject(err);
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

  /** Sends `method path` with these headers (Host, when not given, and Connection are added) and body. */
  request(method: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Http1Response> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${headers.host ?? this.host}\r\nconnection: keep-alive\r\n`;
    for (const name in headers) {
      const value = headers[name];
      // A value that could end the head early would let one header inject others.
      if (/[\r\n]/.test(value) || /[\r\n:]/.test(name)) return Promise.reject(failure(`invalid header ${JSON.stringify(name)}`, 'ERR_INVALID_CHAR'));
      if (name !== 'host' && name !== 'connection') head += `${name}: ${value}\r\n`;
    }
    head += '\r\n';
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    return new Promise<Http1Response>((resolve, reject) => {
      if (this.destroyed) return reject(failure('the HTTP pool was destroyed', 'ERR_HTTP_POOL_DESTROYED'));
      const job: Job = { head, body: bytes, resolve, reject };
      const conn = this.idle.pop();
      if (conn) return this.run(conn, job);
      if (this.all.size < this.options.maxSockets) return this.run(this.open(), job);
      this.queue.push(job);
    });
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
    conn.socket.setTimeout(0);
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
