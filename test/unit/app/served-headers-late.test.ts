/**
 * The served-target headers (x-tollgate-provider / upstream-model / attempts / fallback) of a stream whose
 * 200 was committed before any target opened (the app returns the SSE response after one keep-alive
 * interval). Both adapters send status and headers with the first body write, as the Lambda runtime does,
 * so a target that opens before the first keep-alive comment is still named, fallback included; one that
 * opens later is not (the headers are gone by then; the record names it).
 */
import { createGatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import { UpstreamError } from '../../../lambda/core/errors';
import type { Admission, Attribution } from '../../../lambda/core/gatekeeper';
import type { ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { createStreamingHandler } from '../../../lambda/handlers/lambda-streaming';
import { serveApp, type RunningServer } from '../../../lambda/local/server';
import type { ProviderAdapter } from '../../../lambda/providers/types';
import { awsLambdaEmulation, captureStream, restProxyEvent } from '../../support/lambda-streaming-emulator';

/** The app commits the 200 at INTERVAL; the first keep-alive comment is written at about 2 × INTERVAL. */
const INTERVAL = 600;

const config = parseConfig({
  providers: {
    primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
    backup: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:2/v1' },
  },
  models: { chat: { targets: [{ provider: 'primary', model: 'p-model' }, { provider: 'backup', model: 'b-model' }] } },
  server: { retryBaseDelayMs: 1, sseKeepAliveMs: INTERVAL, streamStallTimeoutMs: 10_000 },
});

const chunk = (content: string | undefined, finish: string | null = null): ChatCompletionChunk =>
  ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] }) as ChatCompletionChunk;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Primary opens after `primaryMs` (or fails then, with `primaryFails`); backup answers at once. */
function makeApp(primaryMs: number, primaryFails = false) {
  const adapter = (id: string, delayMs: number, fails: boolean): ProviderAdapter => ({
    id,
    chat: async () => {
      throw new Error('unused');
    },
    chatStream: async function* () {
      await sleep(delayMs);
      if (fails) throw new UpstreamError(id, 'overloaded', { upstreamStatus: 529 });
      yield chunk(`from ${id}`);
      yield chunk(undefined, 'stop');
    },
  });
  return createGatewayApp({
    config,
    adapters: new Map([
      ['primary', adapter('primary', primaryMs, primaryFails)],
      ['backup', adapter('backup', 0, false)],
    ]),
    providerKeys: { get: async () => undefined },
    gatekeeper: { admit: async (): Promise<Admission> => ({ attribution: { keyId: 'k1' } as Attribution, headers: {}, settle: async () => undefined }) },
  });
}

const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const served = (h: (name: string) => string | null | undefined) => ({
  provider: h('x-tollgate-provider'),
  model: h('x-tollgate-upstream-model'),
  attempts: h('x-tollgate-attempts'),
  fallback: h('x-tollgate-fallback'),
});

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function viaLocalServer(primaryMs: number, primaryFails = false) {
  const server = await serveApp(makeApp(primaryMs, primaryFails));
  servers.push(server);
  const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, served: served((n) => res.headers.get(n)), text: await res.text() };
}

async function viaLambda(primaryMs: number, primaryFails = false) {
  const cap = captureStream();
  await createStreamingHandler(makeApp(primaryMs, primaryFails), awsLambdaEmulation)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body, headers: { 'content-type': 'application/json' } }), cap.stream);
  const { prelude, body: text } = cap.result();
  return { status: prelude.statusCode, served: served((n) => prelude.headers?.[n]), text };
}

describe.each([
  ['the local server', viaLocalServer],
  ['the Lambda streaming handler', viaLambda],
])('Served-target headers on a stream committed before its target opened, through %s', (_name, via) => {
  it('names the target that opened after the commit, before the first keep-alive', async () => {
    const r = await via(INTERVAL * 1.5);
    expect(r.status).toBe(200);
    expect(r.served).toEqual({ provider: 'primary', model: 'p-model', attempts: '1', fallback: 'false' });
    expect(r.text).toContain('from primary');
  });

  it('names the fallback target when the first failed after the commit', async () => {
    const r = await via(INTERVAL * 1.3, true);
    expect(r.served).toEqual({ provider: 'backup', model: 'b-model', attempts: '2', fallback: 'true' });
    expect(r.text).toContain('from backup');
  });

  it('cannot name a target that opened after the first keep-alive went out (the record does)', async () => {
    const r = await via(INTERVAL * 3);
    expect(r.text.startsWith(': keep-alive')).toBe(true);
    expect(r.served.provider ?? null).toBeNull();
    expect(r.text).toContain('from primary');
  });
});
