/**
 * The one definition of Tollgate's CloudWatch metrics: namespace, names, units and the dimension sets
 * each group of metrics is published under. The emitter (lambda/app/telemetry.ts) and the dashboard and
 * alarms (lib/constructs/monitoring.ts) both read this file, so a renamed metric or dimension cannot
 * leave an alarm watching a series nobody writes.
 *
 * Dimension sets are chosen for custom-metric cost: every (name, dimension values) combination is a
 * billed metric, so the high-cardinality attribution sets (Feature, Team) carry only the money metrics,
 * and the operational metrics (latency, errors, fallbacks) go out only in aggregate and by model.
 */
import type { ObservabilityConfig } from './config';

const DEFAULT_NAMESPACE = 'Tollgate';

/**
 * Value of the `Service` dimension when none is given (the local server). In AWS it is the stack name
 * (POWERTOOLS_SERVICE_NAME, set by the stack), so two stacks in one account and namespace keep separate
 * series, alarms and anomaly models.
 */
export const SERVICE = 'tollgate';

/** Dimension value for attribution the key does not carry (so per-team totals add up to the grand total). */
const UNATTRIBUTED = 'unattributed';
/** Dimension value when no upstream target served the request (failed before any target answered). */
export const NO_TARGET = 'none';

export const Dim = {
  Service: 'Service',
  Model: 'Model',
  Provider: 'Provider',
  Feature: 'Feature',
  Team: 'Team',
  ErrorClass: 'ErrorClass',
  Budget: 'Budget',
} as const;
export type DimensionName = (typeof Dim)[keyof typeof Dim];

/** CloudWatch units, spelled as CloudWatch (and Powertools' MetricUnit) spells them. */
export type MetricUnitName = 'Count' | 'Milliseconds' | 'Percent' | 'None';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly description: string;
}

export const METRICS = {
  requests: { name: 'Requests', unit: 'Count', description: 'Chat completion requests, served or rejected.' },
  errors: { name: 'Errors', unit: 'Count', description: 'Requests that ended in an error (not throttles, not client aborts); 0 on success.' },
  rateLimited: { name: 'RateLimited', unit: 'Count', description: 'Requests rejected by a per-key/team rate limit (429 rate_limit_exceeded).' },
  budgetRejected: { name: 'BudgetRejected', unit: 'Count', description: 'Requests rejected because a budget was exhausted (429 insufficient_quota).' },
  fallbacks: { name: 'Fallbacks', unit: 'Count', description: 'Served requests that fell back to a later target; 0 otherwise.' },
  inputTokens: { name: 'InputTokens', unit: 'Count', description: 'Prompt tokens, including cache reads and writes.' },
  outputTokens: { name: 'OutputTokens', unit: 'Count', description: 'Completion tokens, including reasoning tokens.' },
  cachedTokens: { name: 'CachedTokens', unit: 'Count', description: 'Prompt tokens read from the provider cache.' },
  costUsd: { name: 'CostUSD', unit: 'None', description: 'Request cost in US dollars (micro-dollar precision).' },
  timeToFirstToken: { name: 'TimeToFirstToken', unit: 'Milliseconds', description: 'Streaming only: request start to first upstream chunk.' },
  latency: { name: 'Latency', unit: 'Milliseconds', description: 'Request start to the last byte (or the error).' },
  upstreamAttemptFailures: { name: 'UpstreamAttemptFailures', unit: 'Count', description: 'Failed upstream attempts (each retry or fallback step).' },
  budgetUtilization: { name: 'BudgetUtilization', unit: 'Percent', description: 'Spend over limit for a watched budget, in percent.' },
  unpricedRequests: {
    name: 'UnpricedRequests',
    unit: 'Count',
    description: 'Requests served by a target with no known price, metered at $0 because its provider opted in (meterUnpricedAtZero); 0 otherwise.',
  },
} as const satisfies Record<string, MetricDefinition>;
export type MetricKey = keyof typeof METRICS;

/** Dimension sets, each including `Service` (the emitter's default dimension). */
export const DIMENSION_SETS = {
  aggregate: [Dim.Service],
  byModel: [Dim.Service, Dim.Model, Dim.Provider],
  byFeature: [Dim.Service, Dim.Feature],
  byTeam: [Dim.Service, Dim.Team],
  byErrorClass: [Dim.Service, Dim.ErrorClass],
  byProvider: [Dim.Service, Dim.Provider],
  byBudget: [Dim.Service, Dim.Budget],
} as const satisfies Record<string, readonly DimensionName[]>;
export type DimensionSet = (typeof DIMENSION_SETS)[keyof typeof DIMENSION_SETS];

export const ERROR_CLASSES = ['client_error', 'auth', 'upstream', 'timeout', 'internal'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];
/** The classes the gateway operator can act on; the error-rate alarm counts only these. */
export const SERVER_ERROR_CLASSES: readonly ErrorClass[] = ['upstream', 'timeout', 'internal'];

/** Metrics published together in one EMF document, under every one of its dimension sets. */
export interface MetricGroup {
  readonly metrics: readonly MetricKey[];
  readonly dimensionSets: readonly DimensionSet[];
}

export interface MetricGroups {
  /** Once per request that reached an upstream decision (requestEnded). */
  readonly request: MetricGroup;
  /** Once per ended request, only when Feature or Team dimensions are on; never carries the aggregate set. */
  readonly attribution?: MetricGroup;
  /** Once per request rejected before routing (auth, rate limit, budget, bad request). */
  readonly rejection: MetricGroup;
  /** Once per error, beside the request or rejection document. */
  readonly errorClass: MetricGroup;
  /** Once per failed upstream attempt. */
  readonly attempt: MetricGroup;
  /** Per watched budget, whenever its utilisation is reported. */
  readonly budget: MetricGroup;
}

export function metricGroups(obs: Pick<ObservabilityConfig, 'featureDimension' | 'teamDimension'>): MetricGroups {
  const attributionSets: DimensionSet[] = [];
  if (obs.featureDimension) attributionSets.push(DIMENSION_SETS.byFeature);
  if (obs.teamDimension) attributionSets.push(DIMENSION_SETS.byTeam);
  return {
    request: {
      metrics: ['requests', 'errors', 'fallbacks', 'inputTokens', 'outputTokens', 'cachedTokens', 'costUsd', 'latency', 'timeToFirstToken', 'unpricedRequests'],
      dimensionSets: [DIMENSION_SETS.aggregate, DIMENSION_SETS.byModel],
    },
    attribution:
      attributionSets.length > 0
        ? { metrics: ['requests', 'inputTokens', 'outputTokens', 'costUsd'], dimensionSets: attributionSets }
        : undefined,
    rejection: { metrics: ['requests', 'errors', 'rateLimited', 'budgetRejected'], dimensionSets: [DIMENSION_SETS.aggregate] },
    errorClass: { metrics: ['errors'], dimensionSets: [DIMENSION_SETS.byErrorClass] },
    attempt: { metrics: ['upstreamAttemptFailures'], dimensionSets: [DIMENSION_SETS.aggregate, DIMENSION_SETS.byProvider] },
    budget: { metrics: ['budgetUtilization'], dimensionSets: [DIMENSION_SETS.byBudget] },
  };
}

/** Every group that is switched on, in a fixed order. */
export function groupList(groups: MetricGroups): MetricGroup[] {
  const list = [groups.request, groups.attribution, groups.rejection, groups.errorClass, groups.attempt, groups.budget];
  return list.filter((g): g is MetricGroup => g !== undefined);
}

/** Distinct dimension values seen in a month (include `unattributed` in features/teams if any key lacks them). */
export interface MonthlyCardinality {
  modelProviderPairs: number;
  providers: number;
  features: number;
  teams: number;
  errorClasses: number;
  watchedBudgets: number;
}

/**
 * Upper bound on distinct custom metrics per month, following metricGroups() (the docs explain it):
 * every (metric, set) pair contributes one metric per distinct value combination of that set.
 */
export function monthlyMetricCount(obs: Pick<ObservabilityConfig, 'featureDimension' | 'teamDimension'>, c: MonthlyCardinality): number {
  const groups = metricGroups(obs);
  const valuesOf = (set: DimensionSet): number => {
    switch (set) {
      case DIMENSION_SETS.aggregate: return 1;
      case DIMENSION_SETS.byModel: return c.modelProviderPairs;
      case DIMENSION_SETS.byFeature: return c.features;
      case DIMENSION_SETS.byTeam: return c.teams;
      case DIMENSION_SETS.byErrorClass: return c.errorClasses;
      case DIMENSION_SETS.byProvider: return c.providers;
      case DIMENSION_SETS.byBudget: return c.watchedBudgets;
      default: return 0;
    }
  };
  const seen = new Set<string>();
  let count = 0;
  for (const group of groupList(groups)) {
    for (const set of group.dimensionSets) {
      for (const key of group.metrics) {
        // Requests/Errors appear in several groups under the same set: one series, counted once.
        const id = `${key}|${set.join(',')}`;
        if (seen.has(id)) continue;
        seen.add(id);
        count += valuesOf(set);
      }
    }
  }
  return count;
}

const MAX_DIMENSION_VALUE = 128;

/**
 * A dimension value CloudWatch accepts and a dashboard can show: trimmed, no control characters, at most
 * 128 characters; empty becomes `fallback`.
 */
export function dimensionValue(raw: string | undefined, fallback: string = UNATTRIBUTED): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = (raw ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_DIMENSION_VALUE);
  return cleaned.length > 0 ? cleaned : fallback;
}

/** The namespace from the validated config (the schema already defaults it). */
export function metricsNamespace(obs: Pick<ObservabilityConfig, 'namespace'> | undefined): string {
  return obs?.namespace || DEFAULT_NAMESPACE;
}
