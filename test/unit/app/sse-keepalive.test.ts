/**
 * Keep-alive comments and the stall timeout of the SSE relay (lambda/app/sse-keepalive.ts, hooked into
 * chat-completions.ts), through createGatewayApp with scripted adapters whose timing the test controls.
 * Intervals are tens of milliseconds so the cases run fast; the defaults (15 s, 60 s) are the config's.
 */
import OpenAI from 'openai';
import { createGatewayApp, type GatewayApp } from '../../../lambda/app/gateway-app';
import * as relayModule from '../../../lambda/app/relay';
import { parseConfig } from '../../../lambda/core/config';
import { UpstreamError } from '../../../lambda/core/errors';
import type { Admission, Attribution, RequestOutcome } from '../../../lambda/core/gatekeeper';
import type { ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { serveApp } from '../../../lambda/local/server';
import type { ProviderAdapter, ProviderCall } from '../../../lambda/providers/types';

const KEEPALIVE_MS = 40;
const STALL_MS = 500;

const config = parseConfig({
  providers: {
    primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
    backup: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:2/v1' },
  },
  models: {
    chat: { targets: [{ provider: 'primary', model: 'p' }, { provider: 'backup', model: 'b' }] },
    solo: { targets: [{ provider: 'primary', model: 'p' }] },
  },
  server: { retryBaseDelayMs: 1, sseKeepAliveMs: KEEPALIVE_MS, streamStallTimeoutMs: STALL_MS },
});

const chunk = (content: string | undefined, finish: string | null = null): ChatCompletionChunk =>
  ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] }) as ChatCompletionChunk;

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first (as a real upstream read does). */
const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new UpstreamError('primary', 'aborted', { code: 'upstream_aborted' }));
    }, { once: true });
  });

type Stream = (call: ProviderCall) => AsyncGenerator<ChatCompletionChunk>;

function harness(primary: Stream, backup?: Stream) {
  const settled: RequestOutcome[] = [];
  const pending: Promise<unknown>[] = [];
  const calls: ProviderCall[] = [];
  const adapter = (id: string, stream: Stream | undefined): ProviderAdapter => ({
    id,
    chat: async () => {
      throw new Error('unused');
    },
    chatStream: (call) => {
      calls.push(call);
      if (!stream) throw new Error('unused');
      return stream(call);
    },
  });
  const app: GatewayApp = createGatewayApp({
    config,
    adapters: new Map([
      ['primary', adapter('primary', primary)],
      ['backup', adapter('backup', backup)],
    ]),
    providerKeys: { get: async () => undefined },
    gatekeeper: {
      async admit(): Promise<Admission> {
        return { attribution: { keyId: 'k1' } as Attribution, headers: {}, settle: async (o) => void settled.push(o) };
      },
    },
  });
  const post = (model: string, signal?: AbortSignal) =>
    app.fetch(
      new Request('http://gw/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        signal,
      }),
      { waitUntil: (p) => void pending.push(p) },
    );
  return { app, post, settled, calls, idle: () => Promise.all(pending) };
}

const KEEPALIVE = ': keep-alive\n\n';

/**
 * The whole body of `res`, calling `then` once the client holds a keep-alive: a test's upstream that fails
 * "after committing" waits for that instead of a fixed delay, which raced the keep-alive timer on a loaded
 * machine (CI, 2026-12-02).
 */
async function textAfterKeepAlive(res: Response, then: () => void): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let told = false;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    text += decoder.decode(r.value, { stream: true });
    if (!told && text.includes(KEEPALIVE)) {
      told = true;
      then();
    }
  }
  return text;
}
const count = (text: string, part: string) => text.split(part).length - 1;

describe('SSE keep-alive and stall timeout', () => {
  it('sends no keep-alive when the first chunk arrives within the interval (headers name the target)', async () => {
    const h = harness(async function* () {
      yield chunk('a');
      yield chunk(undefined, 'stop');
    });
    const res = await h.post('chat');
    expect(res.headers.get('x-tollgate-provider')).toBe('primary');
    expect(await res.text()).not.toContain(KEEPALIVE);
  });

  it('builds the streamed response while the first chunk is awaited, not after it arrived', async () => {
    const built = jest.spyOn(relayModule, 'streamResponse');
    try {
      let release: (() => void) | undefined;
      const held = new Promise<void>((r) => (release = r));
      const h = harness(async function* () {
        await held;
        yield chunk('a');
        yield chunk(undefined, 'stop');
      });
      const answered = h.post('chat');
      for (let i = 0; i < 20 && built.mock.calls.length === 0; i++) await new Promise((r) => setImmediate(r));
      // The upstream was called and has not answered; the 200 is built, not yet handed back.
      expect(h.calls).toHaveLength(1);
      expect(built).toHaveBeenCalledTimes(1);
      release!();
      const res = await answered;
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('"a"');
      // Named once the target opened (within the keep-alive interval or not: a loaded machine may take longer).
      expect(res.headers.get('x-tollgate-provider')).toBe('primary');
    } finally {
      built.mockRestore();
    }
  });

  it('commits the SSE response and sends keep-alives while the first chunk is awaited, then relays it', async () => {
    const h = harness(async function* (call) {
      await wait(KEEPALIVE_MS * 6, call.signal);
      yield chunk('late');
      yield chunk(undefined, 'stop');
    });
    const res = await h.post('chat');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const firstData = text.indexOf('data:');
    expect(count(text.slice(0, firstData), KEEPALIVE)).toBeGreaterThanOrEqual(1);
    expect(text).toContain('"late"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    await h.idle();
    expect(h.settled).toMatchObject([{ status: 'success', provider: 'primary' }]);
    expect(h.settled[0].ttftMs).toBeGreaterThanOrEqual(KEEPALIVE_MS * 5);
  });

  it('sends keep-alives between chunks while the upstream is quiet', async () => {
    const h = harness(async function* (call) {
      yield chunk('a');
      await wait(KEEPALIVE_MS * 6, call.signal);
      yield chunk('b');
      yield chunk(undefined, 'stop');
    });
    const text = await (await h.post('chat')).text();
    const between = text.slice(text.indexOf('"a"'), text.indexOf('"b"'));
    expect(count(between, KEEPALIVE)).toBeGreaterThanOrEqual(1);
    await h.idle();
    expect(h.settled).toMatchObject([{ status: 'success' }]);
  });

  it('ends a stream stalled between chunks with a 504 error event, stops the upstream and settles once', async () => {
    let upstreamSignal: AbortSignal | undefined;
    const h = harness(async function* (call) {
      upstreamSignal = call.signal;
      yield chunk('a');
      await wait(60_000, call.signal);
      yield chunk('never');
    });
    const started = Date.now();
    const text = await (await h.post('chat')).text();
    expect(Date.now() - started).toBeLessThan(STALL_MS * 10);
    expect(text).toContain('"code":"upstream_stream_stalled"');
    expect(text).toContain('"type":"timeout_error"');
    expect(text).not.toContain('never');
    expect(upstreamSignal?.aborted).toBe(true);
    await h.idle();
    expect(h.settled).toHaveLength(1);
    expect(h.settled[0]).toMatchObject({ status: 'stream_error', httpStatus: 504, errorCode: 'upstream_stream_stalled' });
  });

  it('keeps falling back behind keep-alives after committing, and names the target in the record', async () => {
    // The primary fails once the client has its first keep-alive (textAfterKeepAlive).
    let failPrimary!: () => void;
    const primaryFails = new Promise<void>((resolve) => (failPrimary = resolve));
    const h = harness(
      async function* () {
        await primaryFails;
        yield* [];
        throw new UpstreamError('primary', 'overloaded', { upstreamStatus: 529 });
      },
      async function* () {
        yield chunk('from backup');
        yield chunk(undefined, 'stop');
      },
    );
    const text = await textAfterKeepAlive(await h.post('chat'), failPrimary);
    expect(text.indexOf(KEEPALIVE)).toBe(0);
    expect(text).toContain('from backup');
    await h.idle();
    expect(h.settled).toMatchObject([{ status: 'success', provider: 'backup', fallback: true, attempts: 2 }]);
  });

  it('turns a failure of every target after committing into an SSE error event with the real status in it', async () => {
    let failPrimary!: () => void;
    const primaryFails = new Promise<void>((resolve) => (failPrimary = resolve));
    const h = harness(async function* () {
      await primaryFails;
      yield* [];
      throw new UpstreamError('primary', 'rate limited', { upstreamStatus: 429 });
    });
    const res = await h.post('solo');
    expect(res.status).toBe(200);
    const text = await textAfterKeepAlive(res, failPrimary);
    expect(text.startsWith(KEEPALIVE)).toBe(true);
    expect(text).toMatch(/data: \{"error":\{.*"type":"rate_limit_error"/);
    expect(text).not.toContain('[DONE]');
    await h.idle();
    expect(h.settled).toMatchObject([{ status: 'upstream_error', httpStatus: 429, provider: 'primary' }]);
  });

  it('answers a failure within the first interval with a plain JSON error and its status', async () => {
    const h = harness(async function* () {
      yield* [];
      throw new UpstreamError('primary', 'rate limited', { upstreamStatus: 429 });
    });
    const res = await h.post('solo');
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('settles a client that leaves while the first chunk is still awaited as a client abort, and stops the upstream', async () => {
    let upstreamSignal: AbortSignal | undefined;
    const h = harness(async function* (call) {
      upstreamSignal = call.signal;
      await wait(60_000, call.signal);
      yield chunk('never');
    });
    const res = await h.post('solo');
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(KEEPALIVE);
    await reader.cancel();
    await h.idle();
    expect(upstreamSignal?.aborted).toBe(true);
    expect(h.settled).toMatchObject([{ status: 'client_abort' }]);
  });

  it('is invisible to the official openai client', async () => {
    const h = harness(async function* (call) {
      await wait(KEEPALIVE_MS * 3, call.signal);
      yield chunk('Hel');
      await wait(KEEPALIVE_MS * 3, call.signal);
      yield chunk('lo');
      yield chunk(undefined, 'stop');
    });
    const server = await serveApp(h.app);
    try {
      const client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).toBe('Hello');
    } finally {
      await server.close();
    }
  });
});
