/**
 * lambda/local/node-adapter.ts: a client that disconnects while the body is producing a large chunk. A
 * dead socket never emits 'drain' and an aborted signal never fires again, so waiting for either would
 * leave the body unread and uncancelled (for the chat relay: never settled). Found in review.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayApp } from '../../../lambda/app/gateway-app';
import { createNodeListener } from '../../../lambda/local/node-adapter';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Node adapter: after a client disconnect', () => {
  let server: Server;
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('cancels the response body (so the relay settles) even when a >= highWaterMark chunk arrives after the disconnect', async () => {
    let cancelled = false;
    let pulls = 0;
    const app: GatewayApp = {
      fetch: async (req) =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              async pull(controller) {
                pulls++;
                if (pulls === 1) return controller.enqueue(new TextEncoder().encode('data: first\n\n'));
                // The upstream had this (large) chunk in flight when the client left; it is delivered after the abort.
                if (!req.signal.aborted) await new Promise((r) => req.signal.addEventListener('abort', r, { once: true }));
                await sleep(10);
                controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
              },
              cancel() {
                cancelled = true;
              },
            },
            { highWaterMark: 0 },
          ),
          { status: 200, headers: { 'content-type': 'text/event-stream' } },
        ),
    };
    server = createServer(createNodeListener(app));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST' }, (res) => {
        res.once('data', () => {
          req.destroy(); // the client goes away after the first event
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end('{}');
    });
    await sleep(500);
    expect(cancelled).toBe(true);
  });
});
