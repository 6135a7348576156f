/**
 * Golden tests, per provider kind: the upstream's usage as it is on the wire → the adapter's normalisation
 * → core/usage.ts (total_tokens reconciliation, clamping) → catalog prices → micro-dollars computed by hand.
 */
import type { ProviderConfig } from '../../../lambda/core/config';
import { costMicros, priceFor } from '../../../lambda/core/pricing';
import { fromOpenAIUsage, MAX_PLAUSIBLE_INPUT_TOKENS, reconcileUsage, type TokenUsage } from '../../../lambda/core/usage';
import { anthropicUsage } from '../../../lambda/providers/anthropic/chat-complete';
import { converseUsage } from '../../../lambda/providers/bedrock/converse';
import { normaliseUsage } from '../../../lambda/providers/openai-compatible/chat-complete';

const providers: Record<string, ProviderConfig> = {
  openai: { kind: 'openai-compatible', baseUrl: 'https://api.openai.com/v1' },
  google: { kind: 'openai-compatible', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' },
  deepseek: { kind: 'openai-compatible', baseUrl: 'https://api.deepseek.com/v1' },
  anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKey: { env: 'K' }, version: '2023-06-01' },
  bedrock: { kind: 'bedrock', region: 'us-east-1' },
};
const config = { providers, pricing: { 'deepseek/deepseek-chat': { input: 0.28, output: 0.42, cacheRead: 0.028 } } };
const CAP = 2_000_000;

function billed(provider: string, model: string, usage: TokenUsage | undefined): { usage: TokenUsage; micros: number } {
  const reconciled = reconcileUsage(usage!, { maxOutputTokens: CAP });
  const price = priceFor(config, provider, model);
  if (!price) throw new Error(`${provider}/${model} has no price`);
  return { usage: reconciled, micros: costMicros(reconciled, price) };
}

const openai = (raw: unknown) => fromOpenAIUsage(normaliseUsage(raw));

describe('openai-compatible', () => {
  it('OpenAI: cached input at the cache price, reasoning inside completion tokens', () => {
    const r = billed('openai', 'gpt-4o-mini', openai({
      prompt_tokens: 2_000, completion_tokens: 500, total_tokens: 2_500,
      prompt_tokens_details: { cached_tokens: 1_500 }, completion_tokens_details: { reasoning_tokens: 200 },
    }));
    expect(r.usage).toEqual({ inputTokens: 2_000, outputTokens: 500, cacheReadTokens: 1_500, cacheWriteTokens: 0, reasoningTokens: 200 });
    // 500 × 0.15 + 1,500 × 0.075 + 500 × 0.60 = 75 + 112.5 + 300 = 487.5 → 488
    expect(r.micros).toBe(488);
  });

  it('Gemini: total_tokens above prompt + completion is hidden thinking, billed as output', () => {
    const r = billed('google', 'gemini-2.5-flash', openai({ prompt_tokens: 1_000, completion_tokens: 100, total_tokens: 1_600 }));
    expect(r.usage).toEqual({ inputTokens: 1_000, outputTokens: 600, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 500 });
    // 1,000 × 0.30 + 600 × 2.50 = 300 + 1,500
    expect(r.micros).toBe(1_800);
  });

  it("DeepSeek: prompt_cache_hit_tokens are cache reads, at config.pricing's price (config wins over the catalog)", () => {
    const r = billed('deepseek', 'deepseek-chat', openai({ prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000, prompt_cache_hit_tokens: 500_000 }));
    // 500,000 × 0.28 + 500,000 × 0.028 + 1,000,000 × 0.42
    expect(r.micros).toBe(140_000 + 14_000 + 420_000);
  });

  it('clamps absurd and negative counts, flags them, and still prices a finite cost', () => {
    const absurd = billed('openai', 'gpt-4o-mini', openai({ prompt_tokens: 10, completion_tokens: 1e30, total_tokens: 1e30 }));
    expect(absurd.usage).toMatchObject({ inputTokens: 10, outputTokens: CAP, clamped: true });
    expect(absurd.micros).toBe(Math.ceil(10 * 0.15 + CAP * 0.6));
    const negative = billed('openai', 'gpt-4o-mini', openai({ prompt_tokens: 10, completion_tokens: -50, total_tokens: -40 }));
    expect(negative.usage).toMatchObject({ inputTokens: 10, outputTokens: 0, clamped: true });
    const junk = billed('openai', 'gpt-4o-mini', openai({ prompt_tokens: 1e300, completion_tokens: '7', total_tokens: 3 }));
    expect(junk.usage).toMatchObject({ inputTokens: MAX_PLAUSIBLE_INPUT_TOKENS, outputTokens: 0, clamped: true });
    expect(Number.isSafeInteger(junk.micros)).toBe(true);
  });

  it('leaves honest usage unflagged', () => {
    expect(billed('openai', 'gpt-4o-mini', openai({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })).usage.clamped).toBeUndefined();
  });
});

describe('anthropic', () => {
  it('cache reads and writes are beside input on the wire, inside it once normalised', () => {
    const r = billed('anthropic', 'claude-sonnet-4-5-20250929', fromOpenAIUsage(anthropicUsage({ input_tokens: 100, cache_read_input_tokens: 600, cache_creation_input_tokens: 300, output_tokens: 100 })));
    expect(r.usage).toEqual({ inputTokens: 1_000, outputTokens: 100, cacheReadTokens: 600, cacheWriteTokens: 300, reasoningTokens: 0 });
    // 100 × 3 + 600 × 0.30 + 300 × 3.75 + 100 × 15 (thinking is inside Anthropic's output_tokens)
    expect(r.micros).toBe(300 + 180 + 1_125 + 1_500);
  });

  it('prices every token at the long-context tier once input (cache included) exceeds 200K', () => {
    const r = billed('anthropic', 'claude-sonnet-4-5-20250929', fromOpenAIUsage(anthropicUsage({ input_tokens: 150_000, cache_read_input_tokens: 60_000, output_tokens: 1_000 })));
    // 150,000 × 6 + 60,000 × 0.60 + 1,000 × 22.50
    expect(r.micros).toBe(900_000 + 36_000 + 22_500);
  });

  it('flags a negative count and clamps it to zero', () => {
    const r = billed('anthropic', 'claude-haiku-4-5-20251001', fromOpenAIUsage(anthropicUsage({ input_tokens: -3, output_tokens: 10 })));
    expect(r.usage).toMatchObject({ inputTokens: 0, outputTokens: 10, clamped: true });
    expect(r.micros).toBe(50);
  });
});

describe('bedrock', () => {
  it('a cross-region profile of Claude Haiku 4.5, with the regional premium, cache reads beside input', () => {
    const r = billed('bedrock', 'us.anthropic.claude-haiku-4-5-20251001-v1:0', fromOpenAIUsage(converseUsage({ inputTokens: 1_000, outputTokens: 2_000, totalTokens: 7_000, cacheReadInputTokens: 4_000 })));
    expect(r.usage).toEqual({ inputTokens: 5_000, outputTokens: 2_000, cacheReadTokens: 4_000, cacheWriteTokens: 0, reasoningTokens: 0 });
    // 1,000 × 1.10 + 4,000 × 0.11 + 2,000 × 5.50
    expect(r.micros).toBe(1_100 + 440 + 11_000);
  });

  it('Amazon Nova Lite', () => {
    const r = billed('bedrock', 'amazon.nova-lite-v1:0', fromOpenAIUsage(converseUsage({ inputTokens: 10_000, outputTokens: 1_000, totalTokens: 11_000 })));
    // 10,000 × 0.06 + 1,000 × 0.24
    expect(r.micros).toBe(600 + 240);
  });

  it('clamps output above the cap that was sent and flags it', () => {
    const r = reconcileUsage(fromOpenAIUsage(converseUsage({ inputTokens: 10, outputTokens: 5_000, totalTokens: 5_010 }))!, { maxOutputTokens: 1_000 });
    expect(r).toMatchObject({ outputTokens: 1_000, clamped: true });
  });
});
