/**
 * The local server's edges, over raw sockets on loopback: the Host check (DNS-rebinding defence), a body
 * that trickles forever (408, socket freed), a chunked body past the size limit (413, socket freed), and a
 * client that leaves during the body read (logged as a client abort, not an internal error).
 */
import { connect, type Socket } from 'node:net';
import { createGatewayApp } from '../../../lambda/app/gateway-app';
import type { RequestObserver } from '../../../lambda/app/observer';
import { parseConfig } from '../../../lambda/core/config';
import { serveApp, type RunningServer, type ServeOptions } from '../../../lambda/local/server';

const config = parseConfig({ providers: { p: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' } }, models: { m: { targets: [{ provider: 'p', model: 'x' }] } } });

const servers: RunningServer[] = [];
/** A server whose app logs what it observed into `seen`. */
async function start(opts: ServeOptions = {}): Promise<RunningServer & { seen: string[] }> {
  const seen: string[] = [];
  const observer: RequestObserver = {
    rejected: (e) => seen.push(`rejected ${e.error.status} ${e.error.code}`),
    internalError: (_id, err) => seen.push(`internal ${String(err)}`),
  };
  const app = createGatewayApp({ config, adapters: new Map(), providerKeys: { get: async () => undefined }, gatekeeper: { admit: async () => { throw new Error('unused'); } }, observer });
  const server = await serveApp(app, opts);
  servers.push(server);
  return { ...server, seen };
}

async function eventually(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
afterAll(async () => {
  for (const s of servers) await s.close();
});

interface RawAnswer {
  text: string;
  /** ms from connect until the server closed the connection (or the 10 s guard). */
  closedAfterMs: number;
}

/** Sends `parts` (with `gapMs` between them) on a raw socket; resolves when the server ends the connection. */
function raw(port: number, parts: string[], gapMs = 0, keepTrickling = false): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const socket: Socket = connect(port, '127.0.0.1', () => {
      let i = 0;
      const next = () => {
        if (socket.destroyed) return;
        if (i < parts.length) socket.write(parts[i++]);
        else if (keepTrickling) socket.write('x');
        else return;
        timer = setTimeout(next, gapMs);
      };
      next();
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Date.now() - started });
    });
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after 10 s; got: ${Buffer.concat(chunks).toString('latin1')}`));
    }, 10_000);
  });
}

function parse(answer: RawAnswer): { status: number; body: { error: { type: string; code: string; message: string } } } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer.text)?.[1]);
  expect(answer.text.toLowerCase()).toContain('content-type: application/json');
  return { status, body: JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as { error: { type: string; code: string; message: string } } };
}

const statusOf = (answer: RawAnswer) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer.text)?.[1]);
const get = (host: string) => `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

describe('Local server: Host check when bound to loopback', () => {
  it.each(['evil.example', 'evil.example:8787', '127.0.0.1.nip.io', 'attacker.localhost.evil.example:80', '10.0.0.1'])('refuses Host %s with a JSON 421', async (host) => {
    const server = await start();
    const { status, body } = parse(await raw(server.port, [get(host)]));
    expect(status).toBe(421);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'host_not_allowed' });
  });

  it.each(['127.0.0.1', '127.0.0.1:8787', 'localhost', 'LOCALHOST:1234', 'localhost.', '[::1]:8787'])('serves Host %s', async (host) => {
    const server = await start();
    const answer = await raw(server.port, [get(host)]);
    expect(statusOf(answer)).toBe(200);
  });

  it('serves names on the configured allow-list, and any name with *', async () => {
    const listed = await start({ allowedHosts: ['tollgate.internal'] });
    expect(statusOf(await raw(listed.port, [get('tollgate.internal:8787')]))).toBe(200);
    expect(statusOf(await raw(listed.port, [get('localhost')]))).toBe(200);
    expect(parse(await raw(listed.port, [get('evil.example')])).status).toBe(421);
    const any = await start({ allowedHosts: ['*'] });
    expect(statusOf(await raw(any.port, [get('evil.example')]))).toBe(200);
  });
});

describe('Local server: slow and abandoned bodies', () => {
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';

  it('answers a body that trickles past the request timeout with a JSON 408 and closes the socket', async () => {
    const server = await start({ requestTimeoutMs: 1_500 });
    const answer = await raw(server.port, [head, '{"model":'], 200, true);
    const { status, body } = parse(answer);
    expect(status).toBe(408);
    expect(body.error.code).toBe('request_timeout');
    expect(answer.closedAfterMs).toBeGreaterThanOrEqual(1_400);
    expect(answer.closedAfterMs).toBeLessThan(5_000);
    // The app, still waiting for the body, sees the connection go: the client's doing, not an internal error.
    await eventually(() => server.seen.length > 0);
    expect(server.seen).toEqual(['rejected 499 client_closed_request']);
  });

  it('answers headers that trickle past the timeout (slow-loris) with a JSON 408 and closes the socket', async () => {
    const server = await start({ requestTimeoutMs: 1_500 });
    const answer = await raw(server.port, ['GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '], 200, true);
    expect(parse(answer).status).toBe(408);
    expect(answer.closedAfterMs).toBeLessThan(5_000);
  });

  it('refuses a chunked body (no Content-Length) once it passes the limit: 413 logged, the connection closed, not read to its end', async () => {
    const server = await start();
    const chunked = 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const piece = 'x'.repeat(16 * 1024);
    const frame = `${piece.length.toString(16)}\r\n${piece}\r\n`;
    // 2.5 MiB: far more than the limit (config.server.maxBodyBytes, 1 MiB by default); never terminated.
    const answer = await raw(server.port, [chunked, ...Array.from({ length: 160 }, () => frame)], 1);
    expect(answer.closedAfterMs).toBeLessThan(5_000);
    await eventually(() => server.seen.length > 0);
    expect(server.seen).toEqual(['rejected 413 request_too_large']);
  });

  it('logs a client that leaves during the body read as a client abort, not an internal error', async () => {
    const server = await start();
    await new Promise<void>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(head + '{"model":"m"');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
    });
    await eventually(() => server.seen.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.seen).toEqual(['rejected 499 client_closed_request']);
  });
});
