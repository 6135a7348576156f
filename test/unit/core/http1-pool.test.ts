/**
 * The lean DynamoDB transport's own HTTP/1.1 client (lambda/store/http1-pool.ts) against real loopback
 * servers, most of them raw TCP servers that answer byte by byte the way servers, proxies and emulators
 * frame responses (Content-Length, chunked with trailers, read-to-close, interim 100s), and fail the ways
 * networks fail (reset mid-head, cut mid-body, silence, a connect that never completes). One TLS server
 * with a certificate made for the test (openssl).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Http1Pool, REQUEST_START_CHANNEL, RESPONSE_HEAD_CHANNEL, type Http1PoolOptions } from '../../../lambda/core/http1-pool';

type Answer = (socket: Socket, request: string, n: number) => void;

interface RawServer {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Most connections open at once. */
  peakOpen: number;
  requests: string[];
  close(): Promise<void>;
}

/** A TCP server that reads each request (head + Content-Length body) and answers it with `answer`. */
/** Servers a test started, closed after it. */
let servers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function rawServer(answer: Answer): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, peakOpen: 0, requests: [] as string[] };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    state.peakOpen = Math.max(state.peakOpen, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const request = buf.slice(0, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        state.requests.push(request);
        answer(socket, request, state.requests.length);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const raw = Object.assign(state, {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
  servers.push(raw);
  return raw;
}

/** Writes `data` one byte per turn of the event loop (every split a parser can meet). */
async function dribble(socket: Socket, data: string): Promise<void> {
  for (const ch of Buffer.from(data, 'utf8')) {
    if (socket.destroyed) return;
    socket.write(Buffer.from([ch]));
    await new Promise((r) => setImmediate(r));
  }
}

const lengthAnswer = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: r1\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

let pools: Http1Pool[] = [];
function pool(port: number, opts: Partial<Http1PoolOptions> = {}): Http1Pool {
  const p = new Http1Pool({ https: false, hostname: '127.0.0.1', port, maxSockets: 8, connectTimeoutMs: 0, inactivityTimeoutMs: 10_000, ...opts });
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools) p.destroy();
  pools = [];
});

const post = (p: Http1Pool, body = '{"TableName":"t"}', headers: Record<string, string> = {}) =>
  p.request('POST', '/', { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(Buffer.byteLength(body)), ...headers }, body);

describe('Class: Http1Pool', () => {
  it('sends one well-formed request per call and reuses one keep-alive connection for sequential calls', async () => {
    const s = await rawServer((socket, _req, n) => socket.write(lengthAnswer(JSON.stringify({ n, text: 'päivää 🙂' }))));
    const p = pool(s.port);
    for (let i = 1; i <= 20; i++) {
      const res = await post(p, `{"i":${i},"s":"ä"}`);
      expect(res.status).toBe(200);
      expect(res.headers['x-amzn-requestid']).toBe('r1');
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ n: i, text: 'päivää 🙂' });
    }
    expect(s.connections).toBe(1);
    const first = '{"i":1,"s":"ä"}';
    const expected = `POST / HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\nconnection: keep-alive\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: ${Buffer.byteLength(first)}\r\n\r\n${first}`;
    expect(s.requests[0]).toBe(Buffer.from(expected, 'utf8').toString('latin1')); // the server reads bytes as latin1
  });

  it('publishes each request as it leaves and each response head as it is read (as node:http does on its channels)', async () => {
    const s = await rawServer((socket) => socket.write(lengthAnswer('{}')));
    const seen: unknown[] = [];
    const onStart = (m: unknown) => seen.push({ ...(m as object), sent: s.requests.length });
    const onHead = (m: unknown) => seen.push({ ...(m as object), head: true });
    subscribe(REQUEST_START_CHANNEL, onStart);
    subscribe(RESPONSE_HEAD_CHANNEL, onHead);
    try {
      const p = pool(s.port);
      await post(p);
      await p.stream('POST', '/v1/chat/completions?x=1', { 'content-length': '0' }, '');
      const origin = `http://127.0.0.1:${s.port}`;
      expect(seen).toEqual([
        { origin, method: 'POST', path: '/', sent: 0 },
        { origin, method: 'POST', path: '/', status: 200, head: true },
        { origin, method: 'POST', path: '/v1/chat/completions?x=1', sent: 1 },
        { origin, method: 'POST', path: '/v1/chat/completions?x=1', status: 200, head: true },
      ]);
    } finally {
      unsubscribe(REQUEST_START_CHANNEL, onStart);
      unsubscribe(RESPONSE_HEAD_CHANNEL, onHead);
    }
  });

  it('keeps every header as sent, repeated ones joined, odd names included (no prototype to trip on)', async () => {
    const s = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\nX-Amzn-RequestId: r9\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nconstructor: c\r\n__proto__: p\r\ncontent-length: 2\r\n\r\n{}'));
    const res = await post(pool(s.port));
    expect(res.headers['x-amzn-requestid']).toBe('r9');
    expect(res.headers['set-cookie']).toBe('a=1, b=2');
    expect(res.headers.constructor).toBe('c');
    expect(Object.getOwnPropertyDescriptor(res.headers, '__proto__')?.value).toBe('p');
  });

  it('sends the Host header it is given (the one a signature names)', async () => {
    const s = await rawServer((socket) => socket.write(lengthAnswer('{}')));
    await post(pool(s.port), '{}', { host: 'dynamodb.example' });
    expect(s.requests[0]).toMatch(/^POST \/ HTTP\/1\.1\r\nhost: dynamodb\.example\r\n/);
    expect(s.requests[0].match(/\r\nhost:/gi)).toHaveLength(1);
  });

  it.each([
    ['Content-Length', (b: string) => lengthAnswer(b)],
    ['chunked, with chunk extensions and trailers', (b: string) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n${b.slice(0, 5)}\r\n${(Buffer.byteLength(b.slice(5)) as number).toString(16)}\r\n${b.slice(5)}\r\n0\r\nx-trailer: t\r\n\r\n`],
    ['an interim 100 Continue first', (b: string) => `HTTP/1.1 100 Continue\r\n\r\n${lengthAnswer(b)}`],
  ])('reads a response framed by %s, even when it arrives one byte at a time', async (_name, frame) => {
    const body = JSON.stringify({ Item: { pk: { S: 'a' }, s: { S: 'ünïcödé 🙂' } } });
    const s = await rawServer((socket) => void dribble(socket, frame(body)));
    const p = pool(s.port);
    for (let i = 0; i < 2; i++) expect((await post(p)).body.toString('utf8')).toBe(body);
    expect(s.connections).toBe(1);
  });

  it('reads a body framed by the connection closing, and does not reuse that connection', async () => {
    const s = await rawServer((socket, _req, n) => socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nbody ${n}`));
    const p = pool(s.port);
    expect((await post(p)).body.toString()).toBe('body 1');
    expect((await post(p)).body.toString()).toBe('body 2');
    expect(s.connections).toBe(2);
  });

  it('answers 204 without a body, and opens a new connection after `Connection: close`', async () => {
    const s = await rawServer((socket, _req, n) => socket.write(n === 1 ? 'HTTP/1.1 204 No Content\r\n\r\n' : lengthAnswer('{}', 'connection: close\r\n')));
    const p = pool(s.port);
    expect((await post(p)).status).toBe(204);
    expect((await post(p)).body.toString()).toBe('{}');
    await post(p);
    expect(s.connections).toBe(2);
  });

  it('drops a connection that sent bytes past the end of its response', async () => {
    const s = await rawServer((socket) => socket.write(`${lengthAnswer('{}')}garbage`));
    const p = pool(s.port);
    expect((await post(p)).body.toString()).toBe('{}');
    expect((await post(p)).body.toString()).toBe('{}');
    expect(s.connections).toBe(2);
  });

  it('keeps to maxSockets under concurrency (the rest wait in order) and serves them all', async () => {
    const s = await rawServer((socket, req) => setTimeout(() => socket.write(lengthAnswer(req.slice(req.indexOf('\r\n\r\n') + 4))), 5));
    const p = pool(s.port, { maxSockets: 3 });
    const bodies = Array.from({ length: 30 }, (_, i) => `{"i":${i}}`);
    const answers = await Promise.all(bodies.map((b) => post(p, b)));
    expect(answers.map((a) => a.body.toString())).toEqual(bodies);
    expect(s.peakOpen).toBeLessThanOrEqual(3);
    expect(s.connections).toBe(3);
    expect(p.size).toBe(3);
  });

  it('replaces an idle connection the server closed', async () => {
    const s = await rawServer((socket) => socket.end(lengthAnswer('{}')));
    const p = pool(s.port);
    await post(p);
    await new Promise((r) => setTimeout(r, 50)); // the server's FIN has arrived
    expect(p.size).toBe(0);
    expect((await post(p)).body.toString()).toBe('{}');
    expect(s.connections).toBe(2);
  });

  it.each([
    ['reset before any answer', (socket: Socket) => socket.destroy()],
    ['cut mid-head', (socket: Socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-le')],
    ['cut mid-body', (socket: Socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"Item":')],
    ['cut mid-chunk', (socket: Socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{"Item"')],
  ])('fails like node:http when the server is %s (ECONNRESET, socket hang up), and recovers', async (_name, fail) => {
    const s = await rawServer((socket, _req, n) => (n === 1 ? fail(socket) : socket.write(lengthAnswer('{}'))));
    const p = pool(s.port);
    await expect(post(p)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await post(p)).body.toString()).toBe('{}');
  });

  it.each([
    ['a status line that is not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nbroken header\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a bad Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 1e3\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a chunk size with trailing junk', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2g\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a negative chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-2\r\n', 'HPE_INVALID_CHUNK_SIZE'],
  ])('rejects %s and drops the connection', async (_name, raw, code) => {
    const s = await rawServer((socket, _req, n) => socket.write(n === 1 ? raw : lengthAnswer('{}')));
    const p = pool(s.port);
    await expect(post(p)).rejects.toMatchObject({ code });
    expect((await post(p)).body.toString()).toBe('{}');
    expect(s.connections).toBe(2);
  });

  it('refuses a header node:http refuses (injection, control or wide characters, a name that is not a token), sending nothing', async () => {
    const s = await rawServer((socket) => socket.write(lengthAnswer('{}')));
    const p = pool(s.port);
    await expect(post(p, '{}', { 'x-amz-target': 'A\r\nx-evil: 1' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(post(p, '{}', { 'x-a:b': '1' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(post(p, '{}', { 'x-null': 'a\u0000b' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(post(p, '{}', { 'x-wide': 'ключ' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(post(p, '{}', { 'x y': '1' })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    expect(s.connections).toBe(0);
  });

  it('gives up on a server that goes silent (TimeoutError after the inactivity timeout)', async () => {
    const s = await rawServer(() => undefined);
    const p = pool(s.port, { inactivityTimeoutMs: 100 });
    const started = Date.now();
    await expect(post(p)).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('100 ms of inactivity') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(p.size).toBe(0);
  });

  it('gives up on a connect that does not complete within the connect timeout', async () => {
    const stuck = () => Object.assign(new Socket(), { connecting: true });
    const p = pool(9, { connectTimeoutMs: 50, connect: stuck });
    const started = Date.now();
    await expect(post(p)).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('within the configured timeout of 50 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(p.size).toBe(0);
  });

  it('fails queued and in-flight requests when destroyed, and refuses new ones', async () => {
    const s = await rawServer(() => undefined);
    const p = pool(s.port, { maxSockets: 1 });
    const inFlight = post(p);
    const queued = post(p);
    await new Promise((r) => setTimeout(r, 20));
    p.destroy();
    await expect(inFlight).rejects.toMatchObject({ code: 'ERR_HTTP_POOL_DESTROYED' });
    await expect(queued).rejects.toMatchObject({ code: 'ERR_HTTP_POOL_DESTROYED' });
    await expect(post(p)).rejects.toMatchObject({ code: 'ERR_HTTP_POOL_DESTROYED' });
  });

  it('talks to a node:http server too (its own framing and keep-alive)', async () => {
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(JSON.stringify({ echo: body, host: req.headers.host })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const p = pool(port);
      for (let i = 0; i < 3; i++) expect(JSON.parse((await post(p, `{"i":${i}}`)).body.toString())).toEqual({ echo: `{"i":${i}}`, host: `127.0.0.1:${port}` });
      expect(p.size).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('speaks TLS, verifying the server against the CA it trusts (and refusing one it does not)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-http1-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const cert = readFileSync(join(dir, 'cert.pem'));
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
        req.resume();
        req.on('end', () => res.end(JSON.stringify({ secure: true })));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        const p = pool(port, { https: true, ca: cert });
        for (let i = 0; i < 3; i++) expect(JSON.parse((await post(p)).body.toString())).toEqual({ secure: true });
        expect(p.size).toBe(1);
        // Node's own CAs do not know this certificate.
        await expect(post(pool(port, { https: true }))).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/) });
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not keep a process alive with its idle connections', async () => {
    const s = await rawServer((socket) => socket.write(lengthAnswer('{"ok":true}')));
    const script = `
      const { Http1Pool } = require(${JSON.stringify(resolve(__dirname, '../../../lambda/core/http1-pool.ts'))});
      const p = new Http1Pool({ https: false, hostname: '127.0.0.1', port: ${s.port}, maxSockets: 4, connectTimeoutMs: 1000, inactivityTimeoutMs: 10000 });
      p.request('POST', '/', { 'content-length': '2' }, '{}').then((r) => console.log(r.body.toString(), p.size));
    `;
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    clearTimeout(timer);
    expect(out.trim()).toBe('{"ok":true} 1');
    expect(code).toBe(0);
  }, 20_000);
});

describe('Class: Http1Pool, streamed responses', () => {
  const read = async (body: AsyncIterable<Buffer>) => {
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part);
    return Buffer.concat(parts).toString('utf8');
  };
  const streamPost = (p: Http1Pool, signal?: AbortSignal) => p.stream('POST', '/v1/chat/completions', { 'content-type': 'application/json', 'content-length': '2' }, '{}', signal);

  it('hands over each part as it arrives (the server sends the next only after the reader has the previous)', async () => {
    let next: (() => void) | undefined;
    const s = await rawServer((socket, _req, n) => {
      if (n > 1) return socket.write(lengthAnswer('data: {"i":0}\n\n'));
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n');
      let i = 0;
      next = () => {
        const event = `data: {"i":${i}}\n\n`;
        socket.write(i < 5 ? `${event.length.toString(16)}\r\n${event}\r\n` : '0\r\n\r\n');
        i++;
      };
      next();
    });
    const p = pool(s.port);
    const res = await streamPost(p);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const seen: string[] = [];
    for await (const part of res.body) {
      seen.push(part.toString());
      next?.();
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `data: {"i":${i}}\n\n`));
    // Complete: its socket carries the next call.
    expect(await read((await streamPost(p)).body)).toContain('data: {"i":0}');
    expect(s.connections).toBe(1);
  });

  it('reassembles a chunked body that arrives one byte at a time', async () => {
    const body = 'data: {"choices":[{"delta":{"content":"päivää 🙂"}}]}\n\n'.repeat(3);
    const s = await rawServer((socket) => void dribble(socket, `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`));
    expect(await read((await streamPost(pool(s.port))).body)).toBe(body);
  });

  it('abort mid-body: the pending read fails with the reason and the socket is closed, not reused', async () => {
    const s = await rawServer((socket, _req, n) => socket.write(n === 1 ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n' : lengthAnswer('{}')));
    const p = pool(s.port);
    const res = await streamPost(p);
    const it = res.body[Symbol.asyncIterator]();
    expect((await it.next()).value?.toString()).toBe('hello');
    const pending = it.next();
    res.abort(Object.assign(new Error('upstream request aborted'), { code: 'ABORT_ERR' }));
    await expect(pending).rejects.toMatchObject({ message: 'upstream request aborted', code: 'ABORT_ERR' });
    expect((await post(p)).body.toString()).toBe('{}');
    expect(s.connections).toBe(2);
  });

  it('abort after the response is complete changes nothing: the socket serves the next call', async () => {
    const s = await rawServer((socket) => socket.write(lengthAnswer('{"done":true}')));
    const p = pool(s.port);
    const res = await streamPost(p);
    expect(await read(res.body)).toBe('{"done":true}');
    res.abort();
    expect((await post(p)).body.toString()).toBe('{"done":true}');
    expect(s.connections).toBe(1);
  });

  it('a reader that leaves early drops a response still arriving, and keeps a complete one', async () => {
    const s = await rawServer((socket, _req, n) => socket.write(n === 1 ? 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial' : lengthAnswer('{"whole":1}')));
    const p = pool(s.port);
    for await (const part of (await streamPost(p)).body) {
      expect(part.toString()).toBe('partial');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(p.size).toBe(0);
    const whole = await streamPost(p);
    await new Promise((r) => setTimeout(r, 20)); // the whole body has arrived
    for await (const part of whole.body) {
      expect(part.toString()).toBe('{"whole":1}');
      break;
    }
    expect((await post(p)).body.toString()).toBe('{"whole":1}');
    expect(s.connections).toBe(2);
  });

  it('a signal aborts before the head (the promise rejects with its reason) and an aborted signal sends nothing', async () => {
    const s = await rawServer(() => undefined);
    const p = pool(s.port);
    const controller = new AbortController();
    const pending = streamPost(p, controller.signal);
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('client disconnected'));
    await expect(pending).rejects.toThrow('client disconnected');
    expect(p.size).toBe(0);
    const before = s.requests.length;
    await expect(streamPost(p, AbortSignal.abort(new Error('gone already')))).rejects.toThrow('gone already');
    expect(s.requests.length).toBe(before);
  });

  it('a signal that aborts a queued call (all sockets busy) takes it out of the queue', async () => {
    const s = await rawServer(() => undefined);
    const p = pool(s.port, { maxSockets: 1 });
    const busy = streamPost(p).catch((e: unknown) => e);
    const controller = new AbortController();
    const queued = streamPost(p, controller.signal);
    controller.abort(new Error('not wanted'));
    await expect(queued).rejects.toThrow('not wanted');
    await new Promise((r) => setTimeout(r, 20));
    expect(s.requests).toHaveLength(1);
    p.destroy();
    await busy;
  });

  it('stops reading from the socket while the reader does not read (the server is pushed back), then delivers every byte', async () => {
    const total = 16 * 1024 * 1024;
    let flushed = false;
    const s = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      socket.write(Buffer.alloc(total, 97), () => (flushed = true));
    });
    const res = await streamPost(pool(s.port));
    await new Promise((r) => setTimeout(r, 300));
    // Kernel buffers hold a few MB at most: the rest waits in the server until the reader reads.
    expect(flushed).toBe(false);
    let bytes = 0;
    for await (const part of res.body) bytes += part.length;
    expect(bytes).toBe(total);
    expect(flushed).toBe(true);
  });
});
