/**
 * The shared pipeline tells the caller what a request cost, priced by the admission's own `price` (the
 * pricing settlement uses): `usage.cost` in the non-streamed body and the final usage chunk, and
 * `x-tollgate-cost-usd` on non-streamed answers. GET /v1/models names the surfaces each model serves.
 */
import OpenAI from 'openai';
import { createGatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import type { Admission, RequestOutcome } from '../../../lambda/core/gatekeeper';
import type { ChatCompletion, ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { costMicros, priceFor } from '../../../lambda/core/pricing';
import { serveApp, type RunningServer } from '../../../lambda/local/server';
import type { ProviderAdapter } from '../../../lambda/providers/types';

const config = parseConfig({
  providers: {
    primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
    claude: { kind: 'anthropic', baseUrl: 'http://127.0.0.1:1', apiKey: { env: 'NOPE' } },
  },
  models: {
    chat: { targets: [{ provider: 'primary', model: 'p-model' }] },
    free: { targets: [{ provider: 'primary', model: 'unpriced-model' }] },
    sonnet: { targets: [{ provider: 'claude', model: 'claude-x' }] },
  },
  pricing: { 'primary/p-model': { input: 2, output: 10, cacheRead: 0.5 } },
});

const usage = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 400 } };
// 600 × $2/M + 400 × $0.5/M + 200 × $10/M = 1200 + 200 + 2000 micro-dollars
const EXPECTED_USD = 0.0034;

const adapter: ProviderAdapter = {
  id: 'primary',
  async chat(call): Promise<ChatCompletion> {
    return { id: 'x', object: 'chat.completion', created: 1, model: call.request.model, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage };
  },
  async *chatStream(): AsyncGenerator<ChatCompletionChunk> {
    yield { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] };
    yield { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [], usage };
  },
};

describe('Pipeline: cost back to the caller', () => {
  let server: RunningServer;
  let client: OpenAI;
  const outcomes: RequestOutcome[] = [];

  beforeAll(async () => {
    const app = createGatewayApp({
      config,
      adapters: new Map([['primary', adapter]]),
      providerKeys: { get: async () => undefined },
      gatekeeper: {
        async admit(): Promise<Admission> {
          return {
            attribution: { keyId: 'k1' },
            headers: {},
            settle: async (o) => void outcomes.push(o),
            price: (u, provider, model) => {
              const p = priceFor(config, provider, model);
              return p ? costMicros(u, p) : undefined;
            },
          };
        },
      },
    });
    server = await serveApp(app);
    client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('puts usage.cost in the non-streamed body and x-tollgate-cost-usd in its headers', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect((data.usage as unknown as { cost: number }).cost).toBeCloseTo(EXPECTED_USD, 10);
    expect(Number(response.headers.get('x-tollgate-cost-usd'))).toBeCloseTo(EXPECTED_USD, 10);
  });

  it('puts usage.cost in the final usage chunk of a stream', async () => {
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect((chunks.at(-1)?.usage as unknown as { cost: number }).cost).toBeCloseTo(EXPECTED_USD, 10);
  });

  it('sends no cost (and no header) for an unpriced model', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'free', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.usage).not.toHaveProperty('cost');
    expect(response.headers.get('x-tollgate-cost-usd')).toBeNull();
  });

  it('lists the surfaces each model serves', async () => {
    const res = await fetch(`${server.url}/models`);
    const body = (await res.json()) as { data: Array<{ id: string; surfaces: string[] }> };
    expect(body.data.find((m) => m.id === 'chat')?.surfaces).toContain('chat.completions');
    expect(body.data.find((m) => m.id === 'sonnet')?.surfaces).toContain('chat.completions');
  });
});
