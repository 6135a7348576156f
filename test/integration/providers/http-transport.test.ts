/**
 * The upstream HTTP transport (node:http with keep-alive agents) against a real loopback server: the
 * socket pool is reused and never poisoned by an abandoned or aborted answer, compressed answers are
 * decoded as fetch decoded them, and an abort stops the call at any point.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { UpstreamError } from '../../../lambda/core/errors';
import { FREE_SOCKET_TIMEOUT_MS, postJson, readJson, type OpenResponse } from '../../../lambda/providers/shared/http-transport';
import { readSse } from '../../../lambda/providers/shared/sse-reader';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('Upstream HTTP transport (node:http)', () => {
  let server: Server;
  let url: string;
  let handler: Handler;
  const sockets = new Set<Socket>();
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => handler(req, res));
    });
    server.on('connection', (s) => {
      connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/x`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    connections = 0;
  });

  const post = (signal = new AbortController().signal) =>
    postJson({ provider: 'p', url, headers: {}, body: { a: 1 }, signal, errorMessage: (b) => (b as { error?: { message?: string } }).error?.message });

  const sse: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {"n":1}\n\ndata: {"n":2}\n\n');
  };

  it('reuses one keep-alive connection for sequential calls, also after an answer left unread or aborted once complete', async () => {
    handler = sse;
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) {
      const open = await post(signal);
      for await (const events of readSse('p', open, signal)) expect(events.length).toBeGreaterThan(0);
    }
    // A consumer that throws on a complete answer: readSse aborts it; the socket must stay usable.
    const open = await post(signal);
    await expect(
      (async () => {
        for await (const events of readSse('p', open, signal)) if (events.length) throw new Error('consumer failed');
      })(),
    ).rejects.toThrow('consumer failed');
    await new Promise((r) => setTimeout(r, 20)); // the unread rest drains, the socket returns to the pool
    const again = await post(signal);
    expect(await again.text()).toContain('"n":2');
    expect(connections).toBe(1);
  });

  it('a stream silent for longer than the idle-socket timeout of the pool is not cut (only idle pooled sockets are)', async () => {
    const gapMs = FREE_SOCKET_TIMEOUT_MS + 500;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      setTimeout(() => res.end('data: {"n":2}\n\n'), gapMs);
    };
    const signal = new AbortController().signal;
    let events = 0;
    for await (const batch of readSse('p', await post(signal), signal)) events += batch.length;
    expect(events).toBe(2);
  }, 20_000);

  it('decodes a gzip answer the gateway did not ask for, and asks for no encoding itself', async () => {
    let acceptEncoding: string | undefined;
    handler = (req, res) => {
      acceptEncoding = req.headers['accept-encoding'];
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ ok: true })));
    };
    const signal = new AbortController().signal;
    expect(await readJson('p', await post(signal), signal)).toEqual({ ok: true });
    expect(acceptEncoding).toBeUndefined();
  });

  it('turns a non-2xx answer into an UpstreamError without the key it quotes', async () => {
    const key = ['sk', 'transport', 'secret', 'value', '1234567890'].join('-');
    handler = (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `bad key ${key}` } }));
    };
    const err = (await postJson({ provider: 'p', url, headers: { authorization: `Bearer ${key}` }, body: {}, signal: new AbortController().signal, errorMessage: (b) => (b as { error: { message: string } }).error.message, apiKey: key }).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.status).toBe(502);
    expect(JSON.stringify({ m: err.message, d: err.detail })).not.toContain(key);
  });

  it('an abort before the headers rejects at once and closes the connection', async () => {
    handler = () => undefined; // never answers
    const controller = new AbortController();
    const pending = post(controller.signal);
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.size).toBe(1);
    controller.abort(new Error('client left'));
    await expect(pending).rejects.toMatchObject({ code: 'upstream_aborted' });
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.size).toBe(0);
  });

  it('an abort mid-body fails the reader and closes the connection; the answer abort() does the same', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n'); // then silence
    };
    for (const how of ['signal', 'answer'] as const) {
      const controller = new AbortController();
      const open: OpenResponse = await post(controller.signal);
      const it = open.body[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      const next = it.next();
      if (how === 'signal') controller.abort(new Error('client left'));
      else open.abort();
      await expect(next).rejects.toBeDefined();
      await new Promise((r) => setTimeout(r, 50));
      expect(sockets.size).toBe(0);
    }
  });
});
