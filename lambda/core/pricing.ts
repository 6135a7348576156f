/**
 * Cost in integer micro-dollars. Prices are USD per million tokens, which is exactly micro-dollars per
 * token. Every cost rounds up: the gateway never under-charges.
 *
 * The arithmetic is exact: each price is read as the decimal it was written as (the shortest decimal that
 * round-trips the number, `String(price)`: 0.15, 1.0000004, 4e-7), the cost is summed in BigInt as an exact
 * fraction, and only the final sum is rounded up to a whole micro-dollar. So 0.15 × 1000 tokens is 150, not
 * 150.00000000000003 rounded up to 151, and a price with any number of decimals is never rounded down
 * first. (Converting prices to integer pico-dollars, as before, rounded a 7th decimal to the nearest
 * pico-dollar, which could round down; restricting config prices to 6 decimals instead would reject
 * legitimate sub-pico prices. Exact decimals need neither, for a few BigInt operations per cost.)
 */
import type { PriceConfig, TargetConfig, TollgateConfig } from './config';
import { CATALOG_SUPPLEMENT, CATALOG_VERSION, catalogPrice, SUPPLEMENT_VERSION, type ModelPrice } from './price-catalog';
import type { TokenUsage } from './usage';

export type { ModelPrice } from './price-catalog';

/** What prices come from: the config names what it prices, and the providers the catalog needs to identify hosts. */
export type PricingConfig = Pick<TollgateConfig, 'pricing' | 'providers'>;

export interface PriceQuote {
  price: ModelPrice;
  /** `config`: config.pricing; `catalog`: the built-in catalog (which version and entry matched). */
  source: 'config' | 'catalog';
  catalog?: { version: string; provider: string; model: string };
}

/** `config.pricing` first, then the built-in catalog; undefined when neither knows the model. */
export function priceQuote(config: PricingConfig, provider: string, model: string): PriceQuote | undefined {
  const key = `${provider}/${model}`;
  if (Object.hasOwn(config.pricing, key)) return { price: config.pricing[key], source: 'config' };
  if (Object.hasOwn(CATALOG_SUPPLEMENT, key)) return { price: CATALOG_SUPPLEMENT[key], source: 'catalog', catalog: { version: SUPPLEMENT_VERSION, provider, model } };
  const entry = catalogPrice(config.providers, provider, model);
  if (!entry) return undefined;
  return { price: entry.price, source: 'catalog', catalog: { version: CATALOG_VERSION, provider: entry.catalogProvider, model: entry.catalogModel } };
}

export function priceFor(config: PricingConfig, provider: string, model: string): ModelPrice | undefined {
  return priceQuote(config, provider, model)?.price;
}

/**
 * A provider whose unpriced models are served and metered at $0 (opt-in, `meterUnpricedAtZero`); every
 * other unpriced target is refused before any upstream call.
 */
export function metersUnpricedAtZero(config: Pick<TollgateConfig, 'providers'>, provider: string): boolean {
  const p = Object.hasOwn(config.providers, provider) ? config.providers[provider] : undefined;
  if (!p) return false;
  // A mock has no upstream bill: nothing is hidden by metering it at $0.
  return p.meterUnpricedAtZero ?? p.kind === 'mock';
}

/** Targets a request may not be sent to: no price known and their provider did not opt in to $0 metering. */
export function refusedUnpriced(config: PricingConfig, targets: ReadonlyArray<TargetConfig>): TargetConfig[] {
  return targets.filter((t) => !priceFor(config, t.provider, t.model) && !metersUnpricedAtZero(config, t.provider));
}

/** A nonnegative decimal as `units / 10^scale`, exactly as `String(x)` writes it. */
interface Decimal {
  units: bigint;
  scale: number;
}

function exactDecimal(x: number): Decimal {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`A price must be a finite nonnegative number, not ${x}`);
  const [mantissa, exponent = '0'] = String(x).split('e');
  const [whole, fraction = ''] = mantissa.split('.');
  const scale = fraction.length - Number(exponent);
  const units = BigInt(whole + fraction);
  return scale >= 0 ? { units, scale } : { units: units * 10n ** BigInt(-scale), scale: 0 };
}

/** A price's decimal, also as a Number when its units are a safe integer (the common case: 0.15, 2.5, 1.25). */
interface PriceDecimal extends Decimal {
  unitsNumber: number | undefined;
}

/**
 * Prices are few (one per model and kind) and every request prices its usage several times (worst case,
 * the usage chunk, settlement): each price's decimal is worked out once. Bounded, since a config's prices
 * are a fixed set; an unexpected flood of distinct values (none in practice) just stops being cached.
 */
const decimals = new Map<number, PriceDecimal>();
const MAX_CACHED_DECIMALS = 4096;

function priceDecimal(x: number): PriceDecimal {
  const hit = decimals.get(x);
  if (hit) return hit;
  const d = exactDecimal(x);
  const asNumber = Number(d.units);
  const out = { ...d, unitsNumber: Number.isSafeInteger(asNumber) && d.scale <= 15 ? asNumber : undefined };
  if (decimals.size < MAX_CACHED_DECIMALS) decimals.set(x, out);
  return out;
}

/** Whole tokens as BigInt (a fractional count, never sent by providers, is rounded up). */
function tokenCount(n: number): bigint {
  return BigInt(wholeTokens(n));
}

function wholeTokens(n: number): number {
  return Math.ceil(Math.max(0, n));
}

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * ceil(Σ tokens × price) in micro-dollars, computed exactly: in Number arithmetic when every product and
 * the sum stay safe integers (all integers below 2^53 are exact in a double, and the rounding up is done
 * with an integer remainder, not a floating division), in BigInt otherwise. Both give the same result
 * (test/unit/core/pricing.test.ts checks them against each other with fast-check).
 */
export function exactCostMicros(lines: ReadonlyArray<{ tokens: number; price: number }>): number {
  const prices = lines.map((l) => priceDecimal(l.price));
  let scale = 0;
  for (const p of prices) if (p.scale > scale) scale = p.scale;
  const fast = safeCostMicros(lines, prices, scale);
  return fast ?? bigCostMicros(lines, prices, scale);
}

function safeCostMicros(lines: ReadonlyArray<{ tokens: number }>, prices: ReadonlyArray<PriceDecimal>, scale: number): number | undefined {
  if (scale > 15) return undefined;
  let numerator = 0;
  for (let i = 0; i < lines.length; i++) {
    const units = prices[i].unitsNumber;
    if (units === undefined) return undefined;
    const tokens = wholeTokens(lines[i].tokens);
    const perToken = units * POW10[scale - prices[i].scale];
    if (!Number.isSafeInteger(perToken) || !Number.isSafeInteger(tokens)) return undefined;
    if (perToken !== 0 && tokens > Math.floor(Number.MAX_SAFE_INTEGER / perToken)) return undefined;
    numerator += tokens * perToken;
    if (!Number.isSafeInteger(numerator)) return undefined;
  }
  const denominator = POW10[scale];
  if (numerator > Number.MAX_SAFE_INTEGER - denominator) return undefined;
  // Exact integer division with remainder: q × denominator and the remainder are safe integers.
  let q = Math.floor(numerator / denominator);
  let r = numerator - q * denominator;
  while (r < 0) {
    q -= 1;
    r += denominator;
  }
  while (r >= denominator) {
    q += 1;
    r -= denominator;
  }
  return r > 0 ? q + 1 : q;
}

function bigCostMicros(lines: ReadonlyArray<{ tokens: number }>, prices: ReadonlyArray<Decimal>, scale: number): number {
  let numerator = 0n;
  for (let i = 0; i < lines.length; i++) numerator += tokenCount(lines[i].tokens) * prices[i].units * 10n ** BigInt(scale - prices[i].scale);
  const denominator = 10n ** BigInt(scale);
  return Number((numerator + denominator - 1n) / denominator);
}

/** The BigInt computation alone (for tests: the reference the Number path is checked against). */
export function exactCostMicrosBig(lines: ReadonlyArray<{ tokens: number; price: number }>): number {
  const prices = lines.map((l) => exactDecimal(l.price));
  const scale = Math.max(0, ...prices.map((p) => p.scale));
  return bigCostMicros(lines, prices, scale);
}

/** The unit prices that apply to a request with `inputTokens` of input: the highest tier it exceeds, else the base. */
export function pricesAt(price: ModelPrice, inputTokens: number): PriceConfig {
  let unit: PriceConfig = price;
  for (const tier of price.tiers ?? []) if (inputTokens > tier.aboveInputTokens) unit = tier;
  return unit;
}

/**
 * Usage follows OpenAI's convention (input includes cache reads and writes): uncached input at the input
 * price, cache reads at cacheRead, cache writes at cacheWrite (each falling back to the input price when
 * the provider has none), output (including reasoning tokens) at the output price. A tiered price
 * (long-context) applies its tier to every token once the input exceeds the tier's threshold.
 */
export function costMicros(usage: TokenUsage, modelPrice: ModelPrice): number {
  const price = pricesAt(modelPrice, usage.inputTokens);
  const cacheRead = Math.max(0, usage.cacheReadTokens);
  const cacheWrite = Math.max(0, usage.cacheWriteTokens);
  const uncached = Math.max(0, usage.inputTokens - cacheRead - cacheWrite);
  return exactCostMicros([
    { tokens: uncached, price: price.input },
    { tokens: cacheRead, price: price.cacheRead ?? price.input },
    { tokens: cacheWrite, price: price.cacheWrite ?? price.input },
    { tokens: usage.outputTokens, price: price.output },
  ]);
}

export interface WorstCase {
  costMicros: number;
  /** Targets the catalog and config.pricing do not price (empty when all are priced). */
  unpriced: TargetConfig[];
}

/**
 * The most a request can cost: every input token uncached (cache writes may cost more than input, so
 * they are priced at the dearer of the two) plus the full output allowance, at the most expensive target
 * the router might use. `outputAllowance(target)` is the whole allowance on that target: the cap sent to
 * it times `n` choices (each choice is billed its output; the input once).
 */
export function worstCaseCost(
  config: PricingConfig,
  targets: ReadonlyArray<TargetConfig>,
  inputTokens: number,
  outputAllowance: (target: TargetConfig) => number,
): WorstCase {
  let worst = 0;
  const unpriced: TargetConfig[] = [];
  for (const t of targets) {
    const modelPrice = priceFor(config, t.provider, t.model);
    if (!modelPrice) {
      unpriced.push(t);
      continue;
    }
    const price = pricesAt(modelPrice, inputTokens);
    const inputPrice = Math.max(price.input, price.cacheWrite ?? 0);
    const cost = costMicros(
      { inputTokens, outputTokens: outputAllowance(t), cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      { ...price, input: inputPrice },
    );
    worst = Math.max(worst, cost);
  }
  return { costMicros: worst, unpriced };
}

/** Configured model targets with no known price: a config check for the CLI and the CDK app to warn on. */
export function unpricedTargets(config: Pick<TollgateConfig, 'models' | 'pricing' | 'providers'>): Array<{ model: string; target: TargetConfig }> {
  const out: Array<{ model: string; target: TargetConfig }> = [];
  for (const [alias, m] of Object.entries(config.models)) {
    for (const t of m.targets) if (!priceFor(config, t.provider, t.model)) out.push({ model: alias, target: t });
  }
  return out;
}

export function usdToMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

export function microsToUsd(micros: number): number {
  return micros / 1_000_000;
}
