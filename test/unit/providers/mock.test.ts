import { UpstreamError } from '../../../lambda/core/errors';
import { parseConfig } from '../../../lambda/core/config';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { priceFor } from '../../../lambda/core/pricing';
import { estimateInputTokens } from '../../../lambda/core/token-estimate';
import { createMockAdapter, type MockSettings } from '../../../lambda/providers/mock/adapter';
import { mockAnswer } from '../../../lambda/providers/mock/answer';
import { createProviderAdapter } from '../../../lambda/providers/registry';

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Summarise the quarterly report' }],
  ...over,
});

/** Records the waits instead of sleeping, so timing is asserted exactly and the test takes no real time. */
function fakeClock() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const settings: MockSettings = { ttftMs: 250, tokensPerSecond: 50, answerTokens: 40, errorRate: 0 };

async function collect(it: AsyncIterable<ChatCompletionChunk>) {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('Method: mockAnswer', () => {
  it('gives the same request the same answer, and a different request a different one', () => {
    expect(mockAnswer(request(), 40)).toEqual(mockAnswer(request(), 40));
    expect(mockAnswer(request(), 40).tokens.join('')).not.toEqual(mockAnswer(request({ messages: [{ role: 'user', content: 'other' }] }), 40).tokens.join(''));
  });

  it('varies the length within ±25% of answerTokens and stops at max_tokens with finish_reason length', () => {
    for (let i = 0; i < 50; i++) {
      const n = mockAnswer(request({ messages: [{ role: 'user', content: `q${i}` }] }), 40).tokens.length;
      expect(n).toBeGreaterThanOrEqual(30);
      expect(n).toBeLessThanOrEqual(50);
    }
    const capped = mockAnswer(request({ max_tokens: 5 }), 40);
    expect(capped.tokens).toHaveLength(5);
    expect(capped.finishReason).toBe('length');
  });
});

describe('Method: chat', () => {
  it('waits time-to-first-token plus one token time per output token and reports usage', async () => {
    const clock = fakeClock();
    const adapter = createMockAdapter('mock', settings, { sleep: clock.sleep });
    const res = await adapter.chat({ request: request(), signal: new AbortController().signal, maxOutputTokens: 4_096 });
    const out = res.usage!.completion_tokens;
    expect(res.choices[0].message.content!.split(' ')).toHaveLength(out);
    expect(res.usage!.prompt_tokens).toBe(estimateInputTokens(request()));
    expect(clock.waits).toEqual([250, 20 * out]);
  });

  it('fails the configured share of requests with a retryable 503, the same requests every time', async () => {
    const adapter = createMockAdapter('mock', { ...settings, errorRate: 0.3 }, { sleep: async () => undefined });
    const outcomes = async () => {
      const r: boolean[] = [];
      for (let i = 0; i < 200; i++) {
        r.push(await adapter.chat({ request: request({ messages: [{ role: 'user', content: `q${i}` }] }), signal: new AbortController().signal, maxOutputTokens: 4_096 }).then(() => true, (e: unknown) => {
          expect(e).toBeInstanceOf(UpstreamError);
          expect((e as UpstreamError).retryable).toBe(true);
          return false;
        }));
      }
      return r;
    };
    const first = await outcomes();
    expect(await outcomes()).toEqual(first);
    const failed = first.filter((ok) => !ok).length;
    expect(failed).toBeGreaterThan(35);
    expect(failed).toBeLessThan(85);
  });
});

describe('Method: chatStream', () => {
  it('streams role, one chunk per token at tokensPerSecond, finish, then a usage chunk', async () => {
    const clock = fakeClock();
    const adapter = createMockAdapter('mock', settings, { sleep: clock.sleep });
    const chunks = await collect(adapter.chatStream({ request: request({ stream: true }), signal: new AbortController().signal, maxOutputTokens: 4_096 }));
    const usage = chunks.at(-1)!.usage!;
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(mockAnswer(request(), 40).tokens.join(''));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    expect(usage.completion_tokens).toBe(clock.waits.length - 1);
    expect(clock.waits).toEqual([250, ...Array.from({ length: usage.completion_tokens }, () => 20)]);
  });

  it('stops when the call is aborted', async () => {
    const controller = new AbortController();
    const adapter = createMockAdapter('mock', { ...settings, ttftMs: 0, tokensPerSecond: 1_000 });
    const it = adapter.chatStream({ request: request(), signal: controller.signal, maxOutputTokens: 4_096 })[Symbol.asyncIterator]();
    await it.next();
    controller.abort(new Error('client left'));
    await expect(it.next()).rejects.toThrow('client left');
  });
});

describe('Config: mock providers', () => {
  const config = parseConfig({
    providers: { 'mock-openai': { kind: 'mock', priceAs: 'openai', ttftMs: 10 }, bare: { kind: 'mock' } },
    models: {
      mini: { targets: [{ provider: 'mock-openai', model: 'gpt-4o-mini' }] },
      free: { targets: [{ provider: 'bare', model: 'anything' }] },
    },
  });

  it('prices a priceAs mock target as the named real model, and leaves a bare mock unpriced', () => {
    expect(priceFor(config, 'mock-openai', 'gpt-4o-mini')).toEqual(priceFor(config, 'openai', 'gpt-4o-mini'));
    expect(priceFor(config, 'bare', 'anything')).toBeUndefined();
  });

  it('builds a mock adapter from the registry with the schema defaults', async () => {
    const adapter = createProviderAdapter('bare', config.providers.bare);
    expect(config.providers.bare).toMatchObject({ kind: 'mock', ttftMs: 200, tokensPerSecond: 80, answerTokens: 60, errorRate: 0 });
    expect(adapter.id).toBe('bare');
  });
});
