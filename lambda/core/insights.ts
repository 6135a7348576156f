/**
 * `tollgate insights`, pure: from the period's rollups, where the money could go further.
 *   - cheaper models: for each feature × served model, models of at least the same capability priced on
 *     that feature's own token mix (input, output, cache read, cache write), ranked by saving;
 *   - caching: long prompt prefixes sent again and again without cache reads, priced with and without
 *     the provider's prompt cache;
 *   - output caps: max_tokens far above what the feature uses (each request reserves its cap);
 *   - experiments: arms of a split alias side by side.
 * Every finding carries its evidence (requests, tokens, current cost). Money is integer micro-dollars,
 * computed with the same exact pricing as settlement (core/pricing.ts).
 */

import type { TollgateConfig } from './config';
import { percentile, type Histogram } from './histogram';
import { canReplace, capabilitiesOf, type ModelCapabilities } from './model-capabilities';
import { catalogPrice, WELL_KNOWN_MODELS } from './price-catalog';
import { costMicros, priceFor } from './pricing';
import type { PriceConfig } from './config';
import type { RecordContribution } from './metering';
import type { TokenUsage } from './usage';

/** The same totals a record contributes to its rollups (core/metering.ts). */
export type TokenTotals = RecordContribution;

export interface FeatureModelRow extends TokenTotals {
  feature: string;
  provider: string;
  upstreamModel: string;
  /** The alias clients asked for (the last one seen). */
  model: string;
  cappedRequests: number;
  capTokens: number;
  outputHistogram: Histogram;
}

export interface PrefixRow {
  feature: string;
  prefixHash: string;
  provider: string;
  upstreamModel: string;
  prefixTokens: number;
  requests: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costMicros: number;
  /** Days the prefix was seen on: a provider cache would be written at least once on each. */
  days: number;
}

export interface ArmRow extends TokenTotals {
  model: string;
  arm: string;
  fallbacks: number;
  totalMs: Histogram;
  ttftMs: Histogram;
}

export type InsightsConfig = Pick<TollgateConfig, 'providers' | 'pricing' | 'models' | 'insights'>;

export interface Evidence {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costMicros: number;
}

export interface ModelRecommendation {
  feature: string;
  /** `provider/model` as served. */
  current: string;
  alias: string;
  candidate: string;
  /** An alias of the config whose first target is the candidate, if any. */
  candidateAlias?: string;
  currentCostMicros: number;
  candidateCostMicros: number;
  /** Over the traffic of the period. */
  savingMicros: number;
  /** The saving over a whole month at the period's rate. */
  monthlySavingMicros: number;
  evidence: Evidence;
}

export interface CachingRecommendation {
  feature: string;
  model: string;
  prefixes: number;
  /** Requests that sent one of those prefixes. */
  requests: number;
  prefixTokens: number;
  /** What the prefixes cost without caching (as billed), and with: one cache write per prefix and day, reads after. */
  uncachedCostMicros: number;
  cachedCostMicros: number;
  savingMicros: number;
  monthlySavingMicros: number;
}

export interface OutputCapRecommendation {
  feature: string;
  model: string;
  requests: number;
  averageCap: number;
  p95OutputTokens: number;
  p99OutputTokens: number;
  suggestedCap: number;
  /** Worst case reserved per request now and with the suggested cap (output part, at the output price). */
  reservedPerRequestMicros: number;
  suggestedReservedPerRequestMicros: number;
}

export interface ArmComparison {
  model: string;
  arm: string;
  requests: number;
  costMicros: number;
  costPerRequestMicros: number;
  p50LatencyMs?: number;
  p95LatencyMs?: number;
  p50TtftMs?: number;
  errorRatePercent: number;
  fallbackRatePercent: number;
}

export interface Insights {
  period: string;
  /** Days of the period with traffic so far, and in the whole month (for monthly figures). */
  daysObserved: number;
  daysInMonth: number;
  cheaperModels: ModelRecommendation[];
  caching: CachingRecommendation[];
  outputCaps: OutputCapRecommendation[];
  experiments: ArmComparison[];
}

/** Output-cap advice needs this many capped requests, and a cap at least this many times the p95 used. */
const CAP_MIN_REQUESTS = 10;
const CAP_OVER_FACTOR = 4;
const CAP_MIN_EXCESS_TOKENS = 256;
/** A prefix is worth caching when it was sent this many times without (meaningful) cache reads. */
const CACHE_MIN_REQUESTS = 3;
const CANDIDATES_PER_ROW = 3;

/** The key capabilities and catalog prices are looked up under: a mock with `priceAs` stands for that provider. */
function catalogKey(config: InsightsConfig, provider: string, model: string): string {
  const p = Object.hasOwn(config.providers, provider) ? config.providers[provider] : undefined;
  return p?.kind === 'mock' && p.priceAs ? `${p.priceAs}/${model}` : `${provider}/${model}`;
}

/** What `provider`'s `model` can do: config overrides, the catalog's context window, the hand table (model-capabilities.ts). */
function capabilities(config: InsightsConfig, provider: string, model: string): ModelCapabilities | undefined {
  return capabilitiesOf(catalogKey(config, provider, model), config.insights.capabilities, catalogPrice(config.providers, provider, model)?.contextWindow);
}

interface Candidate {
  key: string;
  price: PriceConfig;
  catalogKey: string;
  caps: ModelCapabilities | undefined;
  alias?: string;
}

/**
 * Models that may be proposed: config.insights.candidates when given, else every priced model of a
 * configured provider (a mock with `priceAs` offers its provider's catalog under its own id).
 */
function candidates(config: InsightsConfig): Candidate[] {
  const keys = new Set<string>();
  if (config.insights.candidates) {
    for (const k of config.insights.candidates) keys.add(k);
  } else {
    const priced = [...WELL_KNOWN_MODELS, ...Object.keys(config.pricing)];
    for (const [id, p] of Object.entries(config.providers)) {
      const source = p.kind === 'mock' ? p.priceAs : id;
      if (!source) continue;
      for (const k of priced) if (k.startsWith(`${source}/`)) keys.add(`${id}/${k.slice(source.length + 1)}`);
    }
  }
  const aliasOf = new Map<string, string>();
  for (const [alias, m] of Object.entries(config.models)) {
    const first = m.targets[0];
    if (!aliasOf.has(`${first.provider}/${first.model}`)) aliasOf.set(`${first.provider}/${first.model}`, alias);
  }
  const byIdentity = new Map<string, Candidate>();
  for (const key of [...keys].sort()) {
    const slash = key.indexOf('/');
    const provider = key.slice(0, slash);
    const model = key.slice(slash + 1);
    const price = priceFor(config, provider, model);
    if (!price) continue;
    // A Bedrock cross-region profile is the same model as its base id: propose it once (the one with an alias if any).
    const identity = `${provider}/${modelIdentity(model)}`;
    const seen = byIdentity.get(identity);
    if (!seen || (!seen.alias && aliasOf.has(key))) {
      byIdentity.set(identity, { key, price, catalogKey: catalogKey(config, provider, model), caps: capabilities(config, provider, model), alias: aliasOf.get(key) });
    }
  }
  return [...byIdentity.values()];
}

/** A model id without a Bedrock cross-region inference prefix (`us.`, `eu.`, `apac.`, `global.`). */
function modelIdentity(model: string): string {
  return model.replace(/^(us|eu|apac|global)\./, '');
}

function mix(t: TokenTotals): TokenUsage {
  return { inputTokens: t.inputTokens, outputTokens: t.outputTokens, cacheReadTokens: t.cacheReadTokens, cacheWriteTokens: t.cacheWriteTokens, reasoningTokens: 0 };
}

function evidence(t: TokenTotals): Evidence {
  return { requests: t.requests, inputTokens: t.inputTokens, outputTokens: t.outputTokens, cacheReadTokens: t.cacheReadTokens, cacheWriteTokens: t.cacheWriteTokens, costMicros: t.costMicros };
}

/** A period's saving scaled to the whole month (exact integer arithmetic, rounded down). */
function monthly(micros: number, daysObserved: number, daysInMonth: number): number {
  return Math.floor((micros * daysInMonth) / Math.max(1, daysObserved));
}

export function cheaperModels(config: InsightsConfig, rows: ReadonlyArray<FeatureModelRow>, days: { observed: number; inMonth: number }): ModelRecommendation[] {
  const pool = candidates(config);
  const out: ModelRecommendation[] = [];
  for (const row of rows) {
    if (row.provider === '-' || row.requests === row.errors) continue;
    const price = priceFor(config, row.provider, row.upstreamModel);
    const caps = capabilities(config, row.provider, row.upstreamModel);
    if (!price || !caps) continue;
    const usage = mix(row);
    const currentCost = costMicros(usage, price);
    const found: ModelRecommendation[] = [];
    for (const c of pool) {
      if (modelIdentity(c.catalogKey.slice(c.catalogKey.indexOf('/') + 1)) === modelIdentity(row.upstreamModel)) continue;
      if (!c.caps || !canReplace(c.caps, caps)) continue;
      const candidateCost = costMicros(usage, c.price);
      const saving = currentCost - candidateCost;
      if (saving <= 0) continue;
      found.push({
        feature: row.feature,
        current: `${row.provider}/${row.upstreamModel}`,
        alias: row.model,
        candidate: c.key,
        ...(c.alias ? { candidateAlias: c.alias } : {}),
        currentCostMicros: currentCost,
        candidateCostMicros: candidateCost,
        savingMicros: saving,
        monthlySavingMicros: monthly(saving, days.observed, days.inMonth),
        evidence: evidence(row),
      });
    }
    out.push(...found.sort((a, b) => b.savingMicros - a.savingMicros || a.candidate.localeCompare(b.candidate)).slice(0, CANDIDATES_PER_ROW));
  }
  return out.sort((a, b) => b.savingMicros - a.savingMicros || a.feature.localeCompare(b.feature) || a.candidate.localeCompare(b.candidate));
}

export function cachingOpportunities(config: InsightsConfig, rows: ReadonlyArray<PrefixRow>, days: { observed: number; inMonth: number }): CachingRecommendation[] {
  const byFeature = new Map<string, CachingRecommendation>();
  for (const p of rows) {
    if (p.requests < CACHE_MIN_REQUESTS) continue;
    const sent = p.requests * p.prefixTokens;
    if (p.cacheReadTokens * 10 >= sent) continue; // already (mostly) cached
    const price = priceFor(config, p.provider, p.upstreamModel);
    if (!price || price.cacheRead === undefined || price.cacheRead >= price.input) continue;
    const writes = Math.min(p.days, p.requests);
    const none: TokenUsage = { inputTokens: sent, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
    const cached: TokenUsage = { ...none, cacheReadTokens: (p.requests - writes) * p.prefixTokens, cacheWriteTokens: writes * p.prefixTokens };
    const uncachedCost = costMicros(none, price);
    const cachedCost = costMicros(cached, price);
    if (cachedCost >= uncachedCost) continue;
    const model = `${p.provider}/${p.upstreamModel}`;
    const key = `${p.feature}#${model}`;
    const r = byFeature.get(key) ?? { feature: p.feature, model, prefixes: 0, requests: 0, prefixTokens: 0, uncachedCostMicros: 0, cachedCostMicros: 0, savingMicros: 0, monthlySavingMicros: 0 };
    r.prefixes += 1;
    r.requests += p.requests;
    r.prefixTokens += sent;
    r.uncachedCostMicros += uncachedCost;
    r.cachedCostMicros += cachedCost;
    r.savingMicros = r.uncachedCostMicros - r.cachedCostMicros;
    r.monthlySavingMicros = monthly(r.savingMicros, days.observed, days.inMonth);
    byFeature.set(key, r);
  }
  return [...byFeature.values()].sort((a, b) => b.savingMicros - a.savingMicros || a.feature.localeCompare(b.feature));
}

export function outputCaps(config: InsightsConfig, rows: ReadonlyArray<FeatureModelRow>): OutputCapRecommendation[] {
  const out: OutputCapRecommendation[] = [];
  for (const row of rows) {
    if (row.cappedRequests < CAP_MIN_REQUESTS) continue;
    const p95 = percentile(row.outputHistogram, 95);
    const p99 = percentile(row.outputHistogram, 99);
    if (p95 === undefined || p99 === undefined) continue;
    const averageCap = Math.round(row.capTokens / row.cappedRequests);
    if (averageCap < CAP_OVER_FACTOR * Math.max(1, p95) || averageCap - p95 < CAP_MIN_EXCESS_TOKENS) continue;
    // Headroom over the longest answers seen: p99 plus a quarter, to a multiple of 64.
    const suggestedCap = Math.min(averageCap, Math.ceil((p99 * 1.25) / 64) * 64 || 64);
    const price = priceFor(config, row.provider, row.upstreamModel);
    const reserve = (tokens: number) => (price ? costMicros({ inputTokens: 0, outputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, price) : 0);
    out.push({
      feature: row.feature,
      model: `${row.provider}/${row.upstreamModel}`,
      requests: row.cappedRequests,
      averageCap,
      p95OutputTokens: p95,
      p99OutputTokens: p99,
      suggestedCap,
      reservedPerRequestMicros: reserve(averageCap),
      suggestedReservedPerRequestMicros: reserve(suggestedCap),
    });
  }
  return out.sort((a, b) => b.averageCap / Math.max(1, b.p95OutputTokens) - a.averageCap / Math.max(1, a.p95OutputTokens) || a.feature.localeCompare(b.feature));
}

/** Percent with one decimal, from integers. */
function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part * 1000) / whole) / 10;
}

export function compareArms(rows: ReadonlyArray<ArmRow>): ArmComparison[] {
  return rows.map((r) => ({
    model: r.model,
    arm: r.arm,
    requests: r.requests,
    costMicros: r.costMicros,
    costPerRequestMicros: r.requests === 0 ? 0 : Math.round(r.costMicros / r.requests),
    p50LatencyMs: percentile(r.totalMs, 50),
    p95LatencyMs: percentile(r.totalMs, 95),
    p50TtftMs: percentile(r.ttftMs, 50),
    errorRatePercent: rate(r.errors, r.requests),
    fallbackRatePercent: rate(r.fallbacks, r.requests),
  }));
}

/** Days in the period's month, and the days observed: the whole month once it is over, else up to today. */
export function periodDays(period: string, now: number): { observed: number; inMonth: number } {
  const [y, m] = period.split('-').map(Number);
  const inMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (period.length === 10) return { observed: 1, inMonth };
  const today = new Date(now);
  const current = today.getUTCFullYear() === y && today.getUTCMonth() + 1 === m;
  return { observed: current ? today.getUTCDate() : inMonth, inMonth };
}

export function buildInsights(
  config: InsightsConfig,
  period: string,
  now: number,
  data: { featureModels: ReadonlyArray<FeatureModelRow>; prefixes: ReadonlyArray<PrefixRow>; arms: ReadonlyArray<ArmRow> },
): Insights {
  const days = periodDays(period, now);
  return {
    period,
    daysObserved: days.observed,
    daysInMonth: days.inMonth,
    cheaperModels: cheaperModels(config, data.featureModels, days),
    caching: cachingOpportunities(config, data.prefixes, days),
    outputCaps: outputCaps(config, data.featureModels),
    experiments: compareArms(data.arms),
  };
}
