/**
 * The price snapshot baked into the function at synth (lambda/core/price-catalog.ts): it must give exactly
 * what the catalog gives, tiers and dated prices included, and keep the catalog out of a cold container
 * for every configured target.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, type TollgateConfig } from '../../../lambda/core/config';
import { CATALOG_VERSION, catalogPrice, installPriceSnapshot, priceSnapshot, type PriceSnapshot } from '../../../lambda/core/price-catalog';
import { priceQuote } from '../../../lambda/core/pricing';

const example = JSON.parse(readFileSync(resolve(__dirname, '../../../tollgate.config.json'), 'utf8')) as { models: Record<string, unknown> };
/** The example config plus an embeddings alias, an experiment arm, a dated-price model, a time-of-day one and one the catalog lacks. */
const config: TollgateConfig = parseConfig({
  ...example,
  models: {
    ...example.models,
    embed: { mode: 'embeddings', targets: [{ provider: 'openai', model: 'text-embedding-3-small' }] },
    'sonnet-4-6': {
      targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-6' }],
      experiment: { arms: [{ name: 'a', weight: 1 }, { name: 'haiku', weight: 1, targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5-20251001' }] }] },
    },
    reasoner: { targets: [{ provider: 'deepseek', model: 'deepseek-reasoner' }] },
    unknown: { targets: [{ provider: 'openai', model: 'gpt-unknown' }] },
  },
});

afterEach(() => {
  installPriceSnapshot(null);
  jest.useRealTimers();
});

describe('Function: priceSnapshot', () => {
  const snapshot = priceSnapshot(config, new Date('2026-12-01T10:00:00Z'));

  it('holds every target the config routes to (aliases, experiment arms, embeddings), with the catalog version and the day', () => {
    expect(snapshot.version).toBe(CATALOG_VERSION);
    expect(snapshot).not.toHaveProperty('takenOn'); // deterministic synth: no date in the baked code
    expect(priceSnapshot(config, new Date('2026-12-02T10:00:00Z'))).toEqual(snapshot);
    expect(Object.keys(snapshot.targets).sort()).toEqual(
      [
        'anthropic/claude-haiku-4-5-20251001',
        'anthropic/claude-sonnet-4-5-20250929',
        'anthropic/claude-sonnet-4-6',
        'bedrock/amazon.nova-lite-v1:0',
        'bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0',
        'bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
        'google/gemini-2.5-flash',
        'mistral/mistral-small-latest',
        'openai/gpt-4o-mini',
        'openai/gpt-unknown',
        'openai/text-embedding-3-small',
      ].sort(),
    );
  });

  it("keeps the catalog's price structure: long-context tiers and dated prices, not one number", () => {
    expect(snapshot.targets['anthropic/claude-sonnet-4-5-20250929'].match?.prices).toMatchObject({ input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] } });
    const dated = snapshot.targets['anthropic/claude-sonnet-4-6'].match?.prices;
    expect(Array.isArray(dated)).toBe(true);
    expect(dated).toEqual([expect.objectContaining({ prices: expect.objectContaining({ input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] } }) }), expect.objectContaining({ since: '2026-03-13' })]);
  });

  it('records a model the catalog does not know as null, and leaves a time-of-day price to the catalog itself', () => {
    expect(snapshot.targets['openai/gpt-unknown']).toEqual({ query: expect.any(String), match: null });
    // deepseek-reasoner has off-peak prices: a container must not freeze whichever was current at synth.
    expect(Object.hasOwn(snapshot.targets, 'deepseek/deepseek-reasoner')).toBe(false);
  });

  it('is small enough to bake into the bundle', () => {
    expect(JSON.stringify(snapshot).length).toBeLessThan(8_000);
  });
});

describe('Function: catalogPrice with a snapshot', () => {
  const keys = (s: PriceSnapshot) => Object.keys(s.targets).map((k) => [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)] as const);

  it.each(['2026-03-01T12:00:00Z', '2026-03-13T00:00:00Z', '2026-12-01T12:00:00Z'])('gives exactly what the catalog gives for every snapshotted target at %s', (now) => {
    const snapshot = priceSnapshot(config, new Date('2026-01-15T00:00:00Z'));
    jest.useFakeTimers({ now: new Date(now), doNotFake: ['nextTick', 'setImmediate'] });
    installPriceSnapshot(null);
    const fromCatalog = keys(snapshot).map(([p, m]) => catalogPrice(config.providers, p, m));
    installPriceSnapshot(snapshot);
    const fromSnapshot = keys(snapshot).map(([p, m]) => catalogPrice(config.providers, p, m));
    expect(fromSnapshot).toEqual(fromCatalog);
    // Sonnet 4.6's long-context tier ended on 2026-03-13: the snapshot switches on the same day as the catalog.
    const sonnet46 = fromSnapshot[keys(snapshot).findIndex(([p, m]) => p === 'anthropic' && m === 'claude-sonnet-4-6')];
    expect(sonnet46?.price.tiers === undefined).toBe(new Date(now) >= new Date('2026-03-13'));
  });

  it('prices every configured target without loading the catalog, and loads it for a model the snapshot lacks', () => {
    const snapshot = priceSnapshot(config);
    let loads = 0;
    jest.isolateModules(() => {
      jest.doMock('@pydantic/genai-prices', () => {
        loads += 1;
        return jest.requireActual('@pydantic/genai-prices');
      });
      /* eslint-disable @typescript-eslint/no-require-imports */
      const catalog = require('../../../lambda/core/price-catalog') as typeof import('../../../lambda/core/price-catalog');
      const pricing = require('../../../lambda/core/pricing') as typeof import('../../../lambda/core/pricing');
      /* eslint-enable @typescript-eslint/no-require-imports */
      catalog.installPriceSnapshot(snapshot);
      expect(pricing.priceQuote(config, 'anthropic', 'claude-sonnet-4-5-20250929')).toEqual({
        price: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75, tiers: [{ aboveInputTokens: 200_000, input: 6, output: 22.5, cacheRead: 0.6, cacheWrite: 7.5 }] },
        source: 'catalog',
        catalog: { version: CATALOG_VERSION, provider: 'anthropic', model: 'claude-sonnet-4-5' },
      });
      expect(pricing.priceFor(config, 'bedrock', 'us.anthropic.claude-haiku-4-5-20251001-v1:0')).toEqual({ input: 1.1, output: 5.5, cacheRead: 0.11, cacheWrite: 1.375 });
      expect(pricing.priceFor(config, 'openai', 'gpt-unknown')).toBeUndefined();
      for (const [p, m] of keys(snapshot)) pricing.priceFor(config, p, m);
      // config.pricing (deepseek-chat) is not the catalog's business either.
      expect(pricing.priceQuote(config, 'deepseek', 'deepseek-chat')?.source).toBe('config');
      expect(loads).toBe(0);
      // `provider/model` addressing of a model no alias names: the catalog, on demand.
      expect(pricing.priceFor(config, 'openai', 'gpt-4.1-mini')).toMatchObject({ input: 0.4, output: 1.6 });
      expect(loads).toBe(1);
    });
  });

  it('lets config.pricing win over the snapshot', () => {
    installPriceSnapshot(priceSnapshot(config));
    const priced = { ...config, pricing: { ...config.pricing, 'openai/gpt-4o-mini': { input: 1, output: 2 } } };
    expect(priceQuote(priced, 'openai', 'gpt-4o-mini')).toEqual({ price: { input: 1, output: 2 }, source: 'config' });
  });

  it('asks the catalog when a provider is not configured as it was when the snapshot was taken', () => {
    const snapshot = priceSnapshot(config);
    // Say the snapshot was wrong about gpt-4o-mini: it is only used for the provider config it was taken with.
    const tampered: PriceSnapshot = structuredClone(snapshot);
    tampered.targets['openai/gpt-4o-mini'].match = { provider: 'openai', model: 'gpt-4o-mini', prices: { input_mtok: 99, output_mtok: 99 } };
    installPriceSnapshot(tampered);
    expect(catalogPrice(config.providers, 'openai', 'gpt-4o-mini')?.price.input).toBe(99);
    const moved = { ...config.providers, openai: { kind: 'openai-compatible' as const, baseUrl: 'https://api.mistral.ai/v1' } };
    expect(catalogPrice(moved, 'openai', 'gpt-4o-mini')?.price.input).not.toBe(99);
  });

  it('ignores a snapshot of another catalog version', () => {
    const snapshot = priceSnapshot(config);
    const other: PriceSnapshot = { ...structuredClone(snapshot), version: '@pydantic/genai-prices@0.0.1' };
    other.targets['openai/gpt-4o-mini'].match = { provider: 'openai', model: 'gpt-4o-mini', prices: { input_mtok: 99, output_mtok: 99 } };
    installPriceSnapshot(other);
    expect(catalogPrice(config.providers, 'openai', 'gpt-4o-mini')?.price).toEqual({ input: 0.15, output: 0.6, cacheRead: 0.075 });
  });
});
