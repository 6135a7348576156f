import { parseConfig } from '../../../lambda/core/config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProviderConfig } from '../../../lambda/core/config';
import { CATALOG_VERSION } from '../../../lambda/core/price-catalog';
import fc from 'fast-check';
import { costMicros, exactCostMicros, exactCostMicrosBig, priceFor, priceQuote, unpricedTargets, usdToMicros, worstCaseCost, type ModelPrice } from '../../../lambda/core/pricing';
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
const providers: Record<string, ProviderConfig> = {
  openai: { kind: 'openai-compatible', baseUrl: 'https://api.openai.com/v1' },
  local: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' },
  anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKey: { env: 'K' }, version: '2023-06-01' },
  bedrock: { kind: 'bedrock', region: 'us-east-1' },
  google: { kind: 'openai-compatible', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' },
};
const catalogOnly = { pricing: {}, providers };
const SONNET_45: ModelPrice = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75, tiers: [{ aboveInputTokens: 200_000, input: 6, output: 22.5, cacheRead: 0.6, cacheWrite: 7.5 }] };

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
    expect(costMicros(u(1_000, 100, { cacheReadTokens: 600, cacheWriteTokens: 300 }), SONNET_45)).toBe(300 + 180 + 1125 + 1500);
  });

  it('charges cache tokens at the input price when the provider has no cache price', () => {
    expect(costMicros(u(1_000, 0, { cacheReadTokens: 1_000 }), { input: 0.1, output: 0.3 })).toBe(100);
  });

  it('prices DeepSeek cache hits at the hit price', () => {
    expect(costMicros(u(1_000_000, 1_000_000, { cacheReadTokens: 500_000 }), { input: 0.28, output: 0.42, cacheRead: 0.028 })).toBe(140_000 + 14_000 + 420_000);
  });

  it('prices every token at the long-context tier once the input exceeds its threshold', () => {
    // 200,000 input is not above the threshold: base prices.
    expect(costMicros(u(200_000, 1_000), SONNET_45)).toBe(200_000 * 3 + 1_000 * 15);
    // 200,001 input: every token at the tier, input and output alike.
    expect(costMicros(u(200_001, 1_000), SONNET_45)).toBe(200_001 * 6 + 1_000 * 22.5);
    // Cache reads count towards the input that selects the tier, and are priced at the tier's cache price.
    expect(costMicros(u(250_000, 0, { cacheReadTokens: 100_000 }), SONNET_45)).toBe(150_000 * 6 + 100_000 * 0.6);
  });
});

describe('Method: exactCostMicros (Number arithmetic where it is exact, BigInt otherwise)', () => {
  // Prices as configs and catalogs write them: few decimals, many decimals, tiny (e-7 … e-12), huge.
  const price = fc.oneof(
    fc.integer({ min: 0, max: 1_000_000 }).map((n) => n / 100),
    fc.integer({ min: 0, max: 10 ** 9 }).chain((n) => fc.integer({ min: 0, max: 12 }).map((d) => n / 10 ** d)),
    fc.integer({ min: 1, max: 999 }).chain((n) => fc.integer({ min: 7, max: 12 }).map((e) => Number(`${n}e-${e}`))),
    fc.double({ min: 0, max: 1e22, noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, 0.15, 0.6, 1.0000004, 4e-7, 3.75, 22.5, 1e21, 2 ** 53, 0.1 + 0.2),
  );
  const tokens = fc.oneof(fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.double({ min: 0, max: 1e9, noNaN: true }));
  const lines = fc.array(fc.record({ tokens, price }), { minLength: 1, maxLength: 4 });

  it('gives exactly what the BigInt computation gives, for any prices and token counts', () => {
    fc.assert(
      fc.property(lines, (ls) => {
        expect(exactCostMicros(ls)).toBe(exactCostMicrosBig(ls));
      }),
      { numRuns: 5_000 },
    );
  });

  it('rounds up exactly at the edge of the safe-integer range', () => {
    // 10^6 × k + 1 pico-units: a float division would lose the +1; the remainder keeps it.
    const k = Math.floor(Number.MAX_SAFE_INTEGER / 10 ** 7);
    const ls = [{ tokens: k * 10 + 1, price: 0.000001 }];
    expect(exactCostMicros(ls)).toBe(exactCostMicrosBig(ls));
    expect(exactCostMicros([{ tokens: 3, price: 0.1 + 0.2 }])).toBe(exactCostMicrosBig([{ tokens: 3, price: 0.1 + 0.2 }]));
    expect(() => exactCostMicros([{ tokens: 1, price: -1 }])).toThrow(RangeError);
    expect(() => exactCostMicros([{ tokens: 1, price: Number.NaN }])).toThrow(RangeError);
  });
});

describe('Method: priceQuote / priceFor', () => {
  it('prefers config.pricing over the catalog and says where each price came from', () => {
    expect(priceQuote(catalogOnly, 'openai', 'gpt-4o-mini')).toEqual({
      price: { input: 0.15, output: 0.6, cacheRead: 0.075 },
      source: 'catalog',
      catalog: { version: CATALOG_VERSION, provider: 'openai', model: 'gpt-4o-mini' },
    });
    expect(priceQuote({ pricing: { 'openai/gpt-4o-mini': { input: 1, output: 2 } }, providers }, 'openai', 'gpt-4o-mini')).toEqual({ price: { input: 1, output: 2 }, source: 'config' });
    expect(priceFor(catalogOnly, 'openai', 'gpt-unknown')).toBeUndefined();
  });

  it('finds Bedrock model ids and cross-region inference profiles, with the regional premium where AWS charges one', () => {
    const sonnet = (id: string) => priceFor(catalogOnly, 'bedrock', id);
    expect(sonnet('global.anthropic.claude-sonnet-4-5-20250929-v1:0')).toMatchObject({ input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 });
    for (const id of ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0']) {
      expect(sonnet(id)).toMatchObject({ input: 3.3, output: 16.5, cacheRead: 0.33, cacheWrite: 4.125 });
    }
    expect(priceFor(catalogOnly, 'bedrock', 'us.amazon.nova-lite-v1:0')).toEqual({ input: 0.06, output: 0.24, cacheRead: 0.015 });
  });

  it('carries tiered long-context prices from the catalog', () => {
    expect(priceFor(catalogOnly, 'anthropic', 'claude-sonnet-4-5-20250929')).toEqual(SONNET_45);
  });

  it('knows an OpenAI-compatible host by its base URL, and falls back to the provider id', () => {
    expect(priceFor(catalogOnly, 'google', 'gemini-2.5-flash')).toMatchObject({ input: 0.3, output: 2.5 });
    expect(priceFor({ pricing: {}, providers: { gem: providers.google } }, 'gem', 'gemini-2.5-flash')).toMatchObject({ input: 0.3, output: 2.5 });
    expect(priceFor({ pricing: {}, providers: { openai: providers.local } }, 'openai', 'gpt-4o-mini')).toMatchObject({ input: 0.15 });
    expect(priceFor({ pricing: {}, providers: { mine: providers.local } }, 'mine', 'gpt-4o-mini')).toBeUndefined();
  });

  it('pins the catalog version package.json installs', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const installed = JSON.parse(readFileSync(join(__dirname, '../../../node_modules/@pydantic/genai-prices/package.json'), 'utf8')) as { version: string };
    expect(CATALOG_VERSION).toBe(`@pydantic/genai-prices@${pkg.dependencies['@pydantic/genai-prices']}`);
    expect(installed.version).toBe(pkg.dependencies['@pydantic/genai-prices']);
  });

  it('knows every upstream model of the shipped tollgate.config.json', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const shipped = parseConfig(require('../../../tollgate.config.json'));
    expect(unpricedTargets(shipped)).toEqual([]);
  });
});

describe('Method: worstCaseCost', () => {
  it('prices the most expensive target with all input uncached (at the dearer of input and cache write) and the full output', () => {
    const wc = worstCaseCost(catalogOnly, [target('openai', 'gpt-4o-mini'), target('bedrock', 'us.anthropic.claude-haiku-4-5-20251001-v1:0')], 1_000, () => 500);
    // Haiku 4.5 on a regional profile: $1.10 in, $1.375 cache write, $5.50 out.
    expect(wc).toEqual({ costMicros: 1_000 * 1.375 + 500 * 5.5, unpriced: [] });
  });

  it('lists the targets it cannot price', () => {
    const wc = worstCaseCost(catalogOnly, [target('openai', 'gpt-4o-mini'), target('acme', 'm')], 10, () => 10);
    expect(wc.unpriced).toEqual([target('acme', 'm')]);
  });
});

describe('Method: usdToMicros', () => {
  it('converts without floating-point drift', () => {
    expect(usdToMicros(0.07)).toBe(70_000);
    expect(usdToMicros(50)).toBe(50_000_000);
  });
});
