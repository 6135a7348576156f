/**
 * The local server's Response → socket writer: chunks produced in the same tick leave together (one
 * chunked frame), a chunk is never held back waiting for the next one, and a client that stops reading
 * stops the body from being pulled (backpressure).
 */
import { request } from 'node:http';
import type { GatewayApp } from '../../../lambda/app/gateway-app';
import { serveApp, type RunningServer } from '../../../lambda/local/server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function appWith(body: () => ReadableStream<Uint8Array>): GatewayApp {
  return { fetch: async () => new Response(body(), { status: 200, headers: { 'content-type': 'text/event-stream' } }) };
}

/** GET the server; resolves with every 'data' event and when it arrived. */
function get(server: RunningServer, onResponse?: (pause: () => void, resume: () => void) => void) {
  return new Promise<Array<{ at: number; text: string }>>((resolve, reject) => {
    const events: Array<{ at: number; text: string }> = [];
    const req = request({ host: '127.0.0.1', port: server.port, path: '/v1/x', method: 'GET' }, (res) => {
      onResponse?.(() => res.pause(), () => res.resume());
      res.on('data', (d: Buffer) => events.push({ at: Date.now(), text: d.toString('latin1') }));
      res.on('end', () => resolve(events));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Node adapter: writing the response body', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('writes chunks available in the same tick together and flushes them without waiting for later ones', async () => {
    const enc = new TextEncoder();
    let step = 0;
    server = await serveApp(
      appWith(
        () =>
          new ReadableStream<Uint8Array>(
            {
              async pull(controller) {
                step++;
                if (step <= 3) controller.enqueue(enc.encode(['a', 'b', 'c'][step - 1]));
                else if (step === 4) {
                  await sleep(150);
                  controller.enqueue(enc.encode('d'));
                } else controller.close();
              },
            },
            { highWaterMark: 0 },
          ),
      ),
    );
    const events = await get(server);
    expect(events.map((e) => e.text).join('')).toBe('abcd');
    // a, b, c were ready in one tick: one write, one chunked frame, one 'data' event at the client.
    expect(events[0].text).toBe('abc');
    // ...and they did not wait for d.
    expect(events.at(-1)!.at - events[0].at).toBeGreaterThanOrEqual(100);
  });

  it('stops pulling the body while the client does not read, and delivers all of it once it does', async () => {
    const total = 512;
    const size = 64 * 1024;
    let pulled = 0;
    server = await serveApp(
      appWith(
        () =>
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                if (pulled === total) return controller.close();
                pulled++;
                controller.enqueue(new Uint8Array(size).fill(97));
              },
            },
            { highWaterMark: 0 },
          ),
      ),
    );
    let pulledWhilePaused = -1;
    const events = await get(server, (pause, resume) => {
      pause();
      setTimeout(() => {
        pulledWhilePaused = pulled;
        resume();
      }, 300);
    });
    // Socket buffers hold some megabytes; the rest of the 32 MiB must wait for the client.
    expect(pulledWhilePaused).toBeGreaterThan(0);
    expect(pulledWhilePaused).toBeLessThan(total * 0.75);
    expect(events.reduce((n, e) => n + e.text.length, 0)).toBe(total * size);
  });
});
