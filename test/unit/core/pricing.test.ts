import { parseConfig } from '../../../lambda/core/config';
import { PRICE_CATALOG } from '../../../lambda/core/price-catalog';
import { costMicros, priceFor, unpricedTargets, usdToMicros, worstCaseCost } from '../../../lambda/core/pricing';
import type { TokenUsage } from '../../../lambda/core/usage';

const u = (inputTokens: number, outputTokens: number, extra: Partial<TokenUsage> = {}): TokenUsage => ({
  inputTokens,
  outputTokens,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  ...extra,
});
const target = (provider: string, model: string) => ({ provider, model, timeoutMs: 1, retries: 0 });

describe('Method: costMicros', () => {
  it('prices tokens exactly in integer micro-dollars (USD per M tokens = micro-dollars per token)', () => {
    expect(costMicros(u(1_000, 0), { input: 0.15, output: 0.6 })).toBe(150); // not 151 from 150.00000000000003
    expect(costMicros(u(1_000_000, 1_000_000), { input: 3, output: 15 })).toBe(18_000_000);
  });

  it('rounds up fractions of a micro-dollar', () => {
    expect(costMicros(u(1, 0), { input: 0.15, output: 0.6 })).toBe(1);
    expect(costMicros(u(0, 0), { input: 0.15, output: 0.6 })).toBe(0);
  });

  it('never charges less than the exact cost, whatever the number of decimals in the price', () => {
    // Was rounding the price to the nearest pico-dollar first: 0.4 pico-dollars per token became 0.
    // $0.0000004/M × 10M tokens = exactly 4 micro-dollars.
    expect(costMicros(u(10_000_000, 0), { input: 0.0000004, output: 0 })).toBe(4);
    // $1.0000004/M × 10M tokens = $10.000004 = 10,000,004 micro-dollars exactly (was 10,000,000).
    expect(costMicros(u(10_000_000, 0), { input: 1.0000004, output: 0 })).toBe(10_000_004);
    // Any fraction of a micro-dollar left after summing all lines rounds up, once.
    expect(costMicros(u(1, 0), { input: 1.0000004, output: 0 })).toBe(2);
    expect(costMicros(u(3, 3), { input: 0.1, output: 0.2 })).toBe(1); // 0.9 exactly, not 0.30000000000000004 + 0.6…
    expect(costMicros(u(1_000_000, 0), { input: 1e-12, output: 0 })).toBe(1);
    expect(costMicros(u(2, 0), { input: 1e21, output: 0 })).toBe(2e21);
  });

  it('prices cache reads and writes separately from uncached input', () => {
    // Sonnet 4.5: 1,000 input of which 600 cache read, 300 cache write: 100 × 3 + 600 × 0.3 + 300 × 3.75 + 100 × 15
    expect(costMicros(u(1_000, 100, { cacheReadTokens: 600, cacheWriteTokens: 300 }), PRICE_CATALOG['anthropic/claude-sonnet-4-5-20250929'])).toBe(300 + 180 + 1125 + 1500);
  });

  it('charges cache tokens at the input price when the provider has no cache price', () => {
    expect(costMicros(u(1_000, 0, { cacheReadTokens: 1_000 }), { input: 0.1, output: 0.3 })).toBe(100);
  });

  it('prices DeepSeek cache hits at the hit price', () => {
    expect(costMicros(u(1_000_000, 1_000_000, { cacheReadTokens: 500_000 }), PRICE_CATALOG['deepseek/deepseek-chat'])).toBe(140_000 + 14_000 + 420_000);
  });
});

describe('Method: priceFor', () => {
  it('prefers config.pricing over the catalog', () => {
    expect(priceFor({}, 'openai', 'gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6, cacheRead: 0.075 });
    expect(priceFor({ 'openai/gpt-4o-mini': { input: 1, output: 2 } }, 'openai', 'gpt-4o-mini')).toEqual({ input: 1, output: 2 });
    expect(priceFor({}, 'openai', 'gpt-unknown')).toBeUndefined();
  });

  it('knows every upstream model of the shipped tollgate.config.json', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const shipped = parseConfig(require('../../../tollgate.config.json'));
    expect(unpricedTargets(shipped)).toEqual([]);
  });
});

describe('Method: worstCaseCost', () => {
  it('prices the most expensive target with all input uncached (at the dearer of input and cache write) and the full output', () => {
    const wc = worstCaseCost({}, [target('openai', 'gpt-4o-mini'), target('bedrock', 'us.anthropic.claude-haiku-4-5-20251001-v1:0')], 1_000, () => 500);
    expect(wc).toEqual({ costMicros: 1_000 * 1.25 + 500 * 5, unpriced: [] });
  });

  it('lists the targets it cannot price', () => {
    const wc = worstCaseCost({}, [target('openai', 'gpt-4o-mini'), target('acme', 'm')], 10, () => 10);
    expect(wc.unpriced).toEqual([target('acme', 'm')]);
  });
});

describe('Method: usdToMicros', () => {
  it('converts without floating-point drift', () => {
    expect(usdToMicros(0.07)).toBe(70_000);
    expect(usdToMicros(50)).toBe(50_000_000);
  });
});
