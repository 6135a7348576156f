/**
 * The app's own contract, with scripted in-process adapters (the wire formats are tested against real
 * upstream doubles elsewhere): SSE relay, usage handling, fallback before the first byte only, one
 * settlement per request, errors in OpenAI's shape.
 */
import OpenAI from 'openai';
import { createGatewayApp, type GatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import { UpstreamError } from '../../../lambda/core/errors';
import type { Admission, Gatekeeper, RequestOutcome } from '../../../lambda/core/gatekeeper';
import type { ChatCompletion, ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { serveApp, type RunningServer } from '../../../lambda/local/server';
import type { ProviderAdapter, ProviderCall } from '../../../lambda/providers/types';

type Script = { fail?: UpstreamError; chunks?: string[]; failAfter?: number; usage?: boolean };

function scriptedAdapter(id: string, script: () => Script, calls: ProviderCall[]): ProviderAdapter {
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null): ChatCompletionChunk => ({
    id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    id,
    async chat(call): Promise<ChatCompletion> {
      calls.push(call);
      const s = script();
      if (s.fail) throw s.fail;
      return {
        id: 'x', object: 'chat.completion', created: 1, model: call.request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: (s.chunks ?? []).join('') }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, prompt_tokens_details: { cached_tokens: 2 } },
      };
    },
    async *chatStream(call) {
      calls.push(call);
      const s = script();
      if (s.fail) throw s.fail;
      const parts = s.chunks ?? [];
      yield chunk({ role: 'assistant', content: '' });
      for (let i = 0; i < parts.length; i++) {
        if (s.failAfter === i) throw new UpstreamError(id, 'connection reset', { upstreamStatus: undefined });
        yield chunk({ content: parts[i] });
      }
      yield chunk({}, 'stop');
      if (s.usage !== false) {
        yield { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [], usage: { prompt_tokens: 5, completion_tokens: parts.length, total_tokens: 5 + parts.length } };
      }
    },
  };
}

const config = parseConfig({
  providers: {
    primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
    backup: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:2/v1' },
  },
  models: {
    chat: { targets: [{ provider: 'primary', model: 'p-model' }, { provider: 'backup', model: 'b-model' }] },
    solo: { targets: [{ provider: 'primary', model: 'p-model' }] },
  },
  server: { maxBodyBytes: 2048, retryBaseDelayMs: 1 },
});

describe('Gateway app', () => {
  let server: RunningServer;
  let client: OpenAI;
  let app: GatewayApp;
  const calls: ProviderCall[] = [];
  const outcomes: RequestOutcome[] = [];
  let primary: Script = {};
  let backup: Script = {};
  const gatekeeper: Gatekeeper = {
    async admit(): Promise<Admission> {
      return {
        attribution: { keyId: 'k1' },
        headers: { 'x-ratelimit-remaining-requests': '9' },
        settle: async (o) => void outcomes.push(o),
      };
    },
  };

  beforeAll(async () => {
    app = createGatewayApp({
      config,
      adapters: new Map([
        ['primary', scriptedAdapter('primary', () => primary, calls)],
        ['backup', scriptedAdapter('backup', () => backup, calls)],
      ]),
      providerKeys: { get: async () => undefined },
      gatekeeper,
    });
    server = await serveApp(app);
    client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    calls.length = 0;
    outcomes.length = 0;
    primary = { chunks: ['Hel', 'lo'] };
    backup = { chunks: ['from ', 'backup'] };
  });

  it('answers non-streaming requests with the upstream completion, served-by headers and one settlement', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    await server.idle();
    expect(data.choices[0].message.content).toBe('Hello');
    expect(calls[0].request.model).toBe('p-model');
    expect(response.headers.get('x-tollgate-provider')).toBe('primary');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: 'success', usage: { inputTokens: 7, outputTokens: 3, cacheReadTokens: 2 }, usageEstimated: false });
  });

  it('streams chunks and includes the usage chunk only when the client asked for it', async () => {
    const withUsage = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const seen: ChatCompletionChunk[] = [];
    for await (const c of withUsage) seen.push(c as ChatCompletionChunk);
    expect(seen.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello');
    expect(seen.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } });

    const without = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const seen2: ChatCompletionChunk[] = [];
    for await (const c of without) seen2.push(c as ChatCompletionChunk);
    expect(seen2.some((c) => c.usage)).toBe(false);
    await server.idle();
    // The gateway still learned the usage for both.
    expect(outcomes.map((o) => o.usage?.outputTokens)).toEqual([2, 2]);
  });

  it('falls back to the next target when the first fails before the first byte', async () => {
    primary = { fail: new UpstreamError('primary', 'overloaded', { upstreamStatus: 529 }) };
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true }).withResponse();
    let text = '';
    for await (const c of stream.data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('from backup');
    expect(stream.response.headers.get('x-tollgate-fallback')).toBe('true');
    await server.idle();
    expect(outcomes[0]).toMatchObject({ provider: 'backup', fallback: true, attempts: 2 });
  });

  it('ends a stream that breaks mid-way with an error event, no fallback, and an estimated usage', async () => {
    primary = { chunks: ['a', 'b', 'c'], failAfter: 2 };
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    await expect(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow(/connection reset/);
    expect(text).toBe('ab');
    await server.idle();
    expect(calls).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: 'stream_error', usageEstimated: true });
    expect(outcomes[0].usage!.outputTokens).toBeGreaterThan(0);
  });

  it('returns the last upstream error in OpenAI shape when every target fails, and settles once', async () => {
    primary = { fail: new UpstreamError('primary', 'down', { upstreamStatus: 500 }) };
    backup = { fail: new UpstreamError('backup', 'rate limited upstream', { upstreamStatus: 429 }) };
    const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    await server.idle();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: 'upstream_error', usage: undefined });
  });

  it.each([
    ['malformed JSON', '{"model":', 400, 'invalid_json'],
    ['a missing field', JSON.stringify({ model: 'chat' }), 400, 'missing_required_parameter'],
    ['an unknown model', JSON.stringify({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }), 404, 'model_not_found'],
    ['an oversized body', JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(4000) }] }), 413, 'request_too_large'],
  ])('rejects %s before any upstream call or settlement', async (_name, body, status, code) => {
    const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(typeof json.error.message).toBe('string');
    expect(calls).toHaveLength(0);
    expect(outcomes).toHaveLength(0);
  });

  it('lists configured models in OpenAI list format and answers unknown paths and methods with OpenAI errors', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['chat', 'solo']);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/chat/completions`)).status).toBe(405);
  });
});
