/**
 * Settlement and upstream-close guarantees of the chat-completions relay (lambda/app/chat-completions.ts),
 * driven through createGatewayApp with scripted adapters and a recording gatekeeper. Each case was a bug
 * found in review: a path where a request was not settled, or the upstream kept generating.
 */
import { createGatewayApp, type GatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import type { Admission, Attribution, RequestOutcome } from '../../../lambda/core/gatekeeper';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { estimateInputTokens } from '../../../lambda/core/token-estimate';
import type { ProviderAdapter, ProviderCall } from '../../../lambda/providers/types';
import { createNodeListener } from '../../../lambda/local/node-adapter';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const config = parseConfig({
  providers: { primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' } },
  models: { chat: { targets: [{ provider: 'primary', model: 'p-model' }] } },
});

const chunk = (delta: Record<string, unknown> | undefined, finish: string | null = null): ChatCompletionChunk =>
  ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, ...(delta ? { delta } : {}), finish_reason: finish }] }) as unknown as ChatCompletionChunk;

interface Harness {
  app: GatewayApp;
  settled: RequestOutcome[];
  pending: Promise<unknown>[];
}

function harness(adapter: Partial<ProviderAdapter>, attribution: Partial<Attribution> = {}, onSettle?: () => void): Harness {
  const settled: RequestOutcome[] = [];
  const pending: Promise<unknown>[] = [];
  const app = createGatewayApp({
    config,
    adapters: new Map([['primary', { id: 'primary', chat: async () => { throw new Error('unused'); }, chatStream: () => { throw new Error('unused'); }, ...adapter } as ProviderAdapter]]),
    providerKeys: { get: async () => undefined },
    // Telemetry is always wired in production (composeGateway); the content log reads completion() only then.
    observer: { requestEnded: () => undefined },
    gatekeeper: {
      async admit(): Promise<Admission> {
        return {
          attribution: { keyId: 'k1', ...attribution } as Attribution,
          headers: {},
          settle: async (o) => {
            onSettle?.();
            settled.push(o);
          },
        };
      },
    },
  });
  return { app, settled, pending };
}

function post(h: Harness, body: Record<string, unknown>, signal?: AbortSignal) {
  return h.app.fetch(
    new Request('http://gw/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }), signal }),
    { waitUntil: (p) => void h.pending.push(p) },
  );
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('Relay: the upstream is closed on every path', () => {
  it('relays a loose chunk without `delta` instead of failing the stream', async () => {
    const h = harness({
      async *chatStream() {
        yield chunk({ role: 'assistant', content: 'a' });
        yield chunk(undefined, 'stop');
      },
    });
    const res = await post(h, { model: 'chat', stream: true });
    expect(await res.text()).toContain('[DONE]');
    await Promise.all(h.pending);
    expect(h.settled).toMatchObject([{ status: 'success' }]);
  });

  it('calls iterator.return() (aborting the upstream) when a chunk cannot be relayed', async () => {
    let returned = false;
    // A chunk JSON.stringify cannot serialise: the relay fails after the first byte, not in the upstream.
    const circular: Record<string, unknown> = { content: 'x' };
    circular.self = circular;
    const h = harness({
      chatStream: () => {
        let i = 0;
        const script = [chunk({ role: 'assistant', content: '' }), chunk(circular), chunk({ content: 'never read' })];
        return {
          [Symbol.asyncIterator]: () => ({
            next: async () => (i < script.length ? { done: false, value: script[i++] } : { done: true, value: undefined }),
            return: async () => {
              returned = true;
              return { done: true, value: undefined };
            },
          }),
        } as AsyncIterable<ChatCompletionChunk>;
      },
    });
    const res = await post(h, { model: 'chat', stream: true });
    await res.text();
    await Promise.all(h.pending);
    expect(h.settled).toHaveLength(1);
    expect(h.settled[0].status).toBe('stream_error');
    // The generator is still suspended and the upstream HTTP request is still open (and billing).
    expect(returned).toBe(true);
  });

  it('aborts the upstream when the body is cancelled during a pending read (not only when request.signal aborts)', async () => {
    let upstreamAborted = false;
    const h = harness({
      async *chatStream(call: ProviderCall) {
        yield chunk({ role: 'assistant', content: '' });
        // a slow upstream: the next token comes only when aborted
        await new Promise<void>((resolve) => call.signal.addEventListener('abort', () => { upstreamAborted = true; resolve(); }));
        yield chunk({ content: 'late' });
      },
    });
    const res = await post(h, { model: 'chat', stream: true });
    const reader = res.body!.getReader();
    await reader.read(); // first chunk
    const pendingRead = reader.read(); // pull now waits on the upstream
    await tick();
    void reader.cancel(); // consumer goes away (as a fetch-style host does)
    await pendingRead;
    await tick(300);
    expect(upstreamAborted).toBe(true);
    expect(h.settled).toHaveLength(1);
  });

  it('records a stream whose consumer took [DONE] and then cancelled as a success, not a client abort', async () => {
    const h = harness({
      async *chatStream() {
        yield chunk({ role: 'assistant', content: 'hi' });
        yield { ...chunk({}, 'stop') };
        yield { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } } as ChatCompletionChunk;
      },
    });
    const res = await post(h, { model: 'chat', stream: true });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('[DONE]')) text += dec.decode((await reader.read()).value);
    await reader.cancel();
    await Promise.all(h.pending);
    expect(h.settled).toHaveLength(1);
    expect(h.settled[0]).toMatchObject({ status: 'success', httpStatus: 200 });
  });
});

describe('Relay: settlement happens exactly once, whatever throws', () => {
  it('settles (and meters) a non-stream answer for a logContent key even when the completion has no message', async () => {
    // parseCompletion only checks `choices` is an array. settler() sets settled=true, then calls input.completion()
    // for content logging, which throws; the catch in handleChatCompletion calls settle() again, which is now a no-op.
    const h = harness(
      {
        async chat() {
          return { id: 'x', object: 'chat.completion', created: 1, model: 'p', choices: [{ index: 0, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } } as unknown as ChatCompletion;
        },
      },
      { logContent: true },
    );
    const res = await post(h, { model: 'chat' });
    await res.text();
    await Promise.all(h.pending);
    expect(h.settled).toHaveLength(1);
  });

  it.each([
    ['non-ByteString model (U+0100)', 'primary/p\u0100'],
    ['model with an interior newline', 'primary/a\nb'],
  ])('direct provider model that is not a valid header value (%s): refused with 400 before any upstream call, nothing to settle', async (_n, model) => {
    // Model names are checked (core/model-name.ts) before anything else: such a name never reaches an
    // upstream, a record key or a response header.
    let returned = false;
    const h = harness({
      async *chatStream() {
        try {
          yield chunk({ role: 'assistant', content: 'x' });
        } finally {
          returned = true;
        }
      },
    });
    const res = await post(h, { model, stream: true });
    await res.text();
    await Promise.all(h.pending);
    expect(res.status).toBe(400);
    expect(h.settled).toHaveLength(0);
    expect(returned).toBe(false);
  });
});

describe('Relay: estimated usage when the upstream reports none', () => {
  it('estimates input at least as the admission did (tools and images count), not only message text', async () => {
    const tools = Array.from({ length: 20 }, (_, i) => ({
      type: 'function',
      function: { name: `tool_${i}`, description: 'Looks up a record in the customer database by many fields. '.repeat(10), parameters: { type: 'object', properties: { a: { type: 'string' } } } },
    }));
    const body = { model: 'chat', stream: true, tools, messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] };
    const h = harness({
      async *chatStream() {
        yield chunk({ role: 'assistant', content: 'partial answer' });
        yield chunk({}, 'stop');
        // no usage chunk (stream cut before it, or a host that never sends it)
      },
    });
    const res = await post(h, body);
    await res.text();
    await Promise.all(h.pending);
    expect(h.settled[0].usageEstimated).toBe(true);
    const admissionEstimate = estimateInputTokens(body as unknown as ChatCompletionRequest);
    expect(h.settled[0].usage!.inputTokens).toBeGreaterThanOrEqual(admissionEstimate);
  });
});

describe('Relay: settlement work runs after the answer has left', () => {
  it('ends the answer (its last bytes written) before settling, with the settlement held by waitUntil from the answer’s end', async () => {
    let res: ServerResponse | undefined;
    let endedWhenSettling: boolean | undefined;
    const tracked: Promise<unknown>[] = [];
    let trackedAtFinish = 0;
    const h = harness(
      {
        async *chatStream() {
          yield chunk({ role: 'assistant', content: 'a' });
          yield chunk(undefined, 'stop');
        },
      },
      {},
      () => (endedWhenSettling = res?.writableEnded),
    );
    const listener = createNodeListener(h.app, { track: (p) => void tracked.push(p) });
    const server = createServer((req, r) => {
      res = r;
      // By the time the answer's end is flushed, the settlement must already be handed over (Lambda and
      // the local server's shutdown wait for what was handed over, not for what is yet to start).
      r.on('finish', () => (trackedAtFinish = tracked.length));
      listener(req, r);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (answer) => {
          let text = '';
          answer.on('data', (d: Buffer) => (text += d.toString()));
          answer.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
      });
      expect(body).toContain('[DONE]');
      await Promise.all(tracked);
      expect(h.settled).toMatchObject([{ status: 'success' }]);
      expect(endedWhenSettling).toBe(true);
      // The response's own promise and the settlement.
      expect(trackedAtFinish).toBe(2);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
