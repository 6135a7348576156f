/**
 * Cost in integer micro-dollars. Prices are USD per million tokens, which is exactly micro-dollars per
 * token; they are converted to integer pico-dollars per token first so that 0.15 × 1000 tokens is 150,
 * not 150.00000000000003 rounded up to 151. Every cost rounds up: the gateway never under-charges.
 */
import type { PriceConfig, TargetConfig, TollgateConfig } from './config';
import { PRICE_CATALOG } from './price-catalog';
import type { TokenUsage } from './usage';

const PICO_PER_MICRO = 1_000_000;

export function priceKey(provider: string, model: string): string {
  return `${provider}/${model}`;
}

/** `config.pricing` first, then the built-in catalog; undefined when neither knows the model. */
export function priceFor(overrides: Readonly<Record<string, PriceConfig>>, provider: string, model: string): PriceConfig | undefined {
  const key = priceKey(provider, model);
  return overrides[key] ?? PRICE_CATALOG[key];
}

function picoPerToken(usdPerMillion: number): number {
  return Math.round(usdPerMillion * 1_000_000);
}

function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * Usage follows OpenAI's convention (input includes cache reads and writes): uncached input at the input
 * price, cache reads at cacheRead, cache writes at cacheWrite (each falling back to the input price when
 * the provider has none), output (including reasoning tokens) at the output price.
 */
export function costMicros(usage: TokenUsage, price: PriceConfig): number {
  const cacheRead = Math.max(0, usage.cacheReadTokens);
  const cacheWrite = Math.max(0, usage.cacheWriteTokens);
  const uncached = Math.max(0, usage.inputTokens - cacheRead - cacheWrite);
  const pico =
    uncached * picoPerToken(price.input) +
    cacheRead * picoPerToken(price.cacheRead ?? price.input) +
    cacheWrite * picoPerToken(price.cacheWrite ?? price.input) +
    Math.max(0, usage.outputTokens) * picoPerToken(price.output);
  return ceilDiv(pico, PICO_PER_MICRO);
}

export interface WorstCase {
  costMicros: number;
  /** Targets the catalog and config.pricing do not price (empty when all are priced). */
  unpriced: TargetConfig[];
}

/**
 * The most a request can cost: every input token uncached (cache writes may cost more than input, so
 * they are priced at the dearer of the two) plus the full output allowance, at the most expensive target
 * the router might use.
 */
export function worstCaseCost(
  overrides: Readonly<Record<string, PriceConfig>>,
  targets: ReadonlyArray<TargetConfig>,
  inputTokens: number,
  maxOutputTokens: number,
): WorstCase {
  let worst = 0;
  const unpriced: TargetConfig[] = [];
  for (const t of targets) {
    const price = priceFor(overrides, t.provider, t.model);
    if (!price) {
      unpriced.push(t);
      continue;
    }
    const inputPrice = Math.max(price.input, price.cacheWrite ?? 0);
    const cost = costMicros(
      { inputTokens, outputTokens: maxOutputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      { ...price, input: inputPrice },
    );
    worst = Math.max(worst, cost);
  }
  return { costMicros: worst, unpriced };
}

/** Configured model targets with no known price: a config check for the CLI and the CDK app to warn on. */
export function unpricedTargets(config: Pick<TollgateConfig, 'models' | 'pricing'>): Array<{ model: string; target: TargetConfig }> {
  const out: Array<{ model: string; target: TargetConfig }> = [];
  for (const [alias, m] of Object.entries(config.models)) {
    for (const t of m.targets) if (!priceFor(config.pricing, t.provider, t.model)) out.push({ model: alias, target: t });
  }
  return out;
}

export function usdToMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

export function microsToUsd(micros: number): number {
  return micros / 1_000_000;
}
