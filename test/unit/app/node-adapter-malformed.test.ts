/**
 * Malformed HTTP against the local server, over raw sockets: every one gets an OpenAI-shaped JSON 4xx,
 * never a 500 or Node's bare status line.
 */
import { connect } from 'node:net';
import { createGatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import { serveApp, type RunningServer } from '../../../lambda/local/server';

const config = parseConfig({ providers: { p: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' } }, models: { m: { targets: [{ provider: 'p', model: 'x' }] } } });

let server: RunningServer;
beforeAll(async () => {
  const app = createGatewayApp({ config, adapters: new Map(), providerKeys: { get: async () => undefined }, gatekeeper: { admit: async () => { throw new Error('unused'); } } });
  server = await serveApp(app);
});
afterAll(() => server.close());

function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write(text));
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(Buffer.concat(parts).toString('latin1'));
    });
  });
}

describe('Local server: malformed HTTP', () => {
  it.each([
    ['an absolute-form target', 'GET http://evil.example/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'],
    ['a `*` target', 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'],
    ['TRACE', 'TRACE /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'],
    ['an invalid Host', 'GET /v1/models HTTP/1.1\r\nHost: a b/c\r\nConnection: close\r\n\r\n'],
    ['garbage', 'HELLO\r\n\r\n'],
    ['a bad header line', 'GET /v1/models HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n'],
    ['conflicting framing', 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['oversized headers', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ])('answers %s with a JSON 4xx', async (_name, request) => {
    const response = await raw(request);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(response.toLowerCase()).toContain('content-type: application/json');
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
  });
});
