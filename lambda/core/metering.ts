/**
 * What one settled request records, pure: the per-request record and the dimension values its usage is
 * rolled up under. Everything is attributed to the UTC day/month of *admission*, the same period its
 * budget reservations were made in, so a request that straddles midnight is counted once, in one period.
 */
import type { EffectiveBudget } from './budgets';
import type { Attribution, OutcomeStatus, RequestOutcome } from './gatekeeper';
import type { RequestEvidence } from './request-evidence';
import { ZERO_USAGE, type TokenUsage } from './usage';

export const USAGE_DIMENSIONS = ['key', 'team', 'customer', 'feature', 'model', 'environment'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

/** Team, customer, feature and environment ids: no `#` or `:` (they delimit item keys and budget names). */
export const ATTRIBUTION_ID = /^[A-Za-z0-9][A-Za-z0-9._@+/-]{0,127}$/;

/** Rolled-up value for requests without a team, customer, feature or environment. */
const NONE = '-';

/** A record's status: how the request ended, or `lost` when it died with its process (written by the sweeper). */
export type RecordStatus = OutcomeStatus | 'lost';

/**
 * What is known about a request at admission: enough for the sweeper to write its `lost` record if the
 * process dies before settling (kept on the lease index entry).
 */
/** Who a request is attributed to, as records and lease index entries keep it. */
export type RecordAttribution = Omit<Attribution, 'logContent'>;

export interface AdmittedRequest extends RecordAttribution {
  requestId: string;
  admittedAt: number;
  day: string;
  model: string;
  stream?: boolean;
  /** The reserved worst case (µ$): what a lost request is charged. */
  reservedMicros: number;
  softBudgets?: SoftBudgetCharge[];
}

/** A soft budget a request's cost is added to (derived from its record, like the rollups). */
export type SoftBudgetCharge = EffectiveBudget & { periodKey: string };

export interface UsageRecord extends RecordAttribution {
  requestId: string;
  /** Epoch ms. */
  admittedAt: number;
  endedAt: number;
  /** `2026-11-25`: the admission day. */
  day: string;
  /** What the client asked for (alias or provider/model). */
  model: string;
  provider?: string;
  upstreamModel?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costMicros: number;
  /** Token counts are the gateway's estimate (the upstream reported none). */
  estimated: boolean;
  /** No price was known for the serving target: cost is recorded as 0. */
  unpriced: boolean;
  /** The upstream reported impossible usage (negative, absurd, above the cap sent), clamped before pricing. */
  usageClamped?: boolean;
  status: RecordStatus;
  httpStatus: number;
  stream: boolean;
  ttftMs?: number;
  totalMs: number;
  attempts: number;
  fallback: boolean;
  errorCode?: string;
  /** Insights evidence (core/request-evidence.ts); absent fields were not sent or not applicable. */
  outputCapTokens?: number;
  prefixHash?: string;
  prefixTokens?: number;
  arm?: string;
  /** The reserved worst case (µ$). */
  reservedMicros?: number;
  /**
   * Set when this record replaced the sweeper's `lost` record: what that record had contributed (cost,
   * tokens, error), so derived totals move by the difference.
   */
  replaced?: RecordContribution;
  /** Soft budgets this request's cost is added to (by the deriver). */
  softBudgets?: SoftBudgetCharge[];
}

/** What one record adds to the rollups and soft budgets it is derived into. */
export interface RecordContribution {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costMicros: number;
}

export function contributionOf(r: Pick<UsageRecord, 'status' | 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens' | 'costMicros'>): RecordContribution {
  return {
    requests: 1,
    errors: r.status === 'success' ? 0 : 1,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    costMicros: r.costMicros,
  };
}

/** `a - b`, field by field (a correction of a lost record moves the totals by this). */
export function contributionDelta(a: RecordContribution, b: RecordContribution): RecordContribution {
  return {
    requests: a.requests - b.requests,
    errors: a.errors - b.errors,
    inputTokens: a.inputTokens - b.inputTokens,
    outputTokens: a.outputTokens - b.outputTokens,
    cacheReadTokens: a.cacheReadTokens - b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens - b.cacheWriteTokens,
    costMicros: a.costMicros - b.costMicros,
  };
}

/** The attribution fields a record keeps, picked one by one (never the key's logging opt-in). */
function recordAttribution(a: RecordAttribution): RecordAttribution {
  return { keyId: a.keyId, keyName: a.keyName, team: a.team, customer: a.customer, environment: a.environment, feature: a.feature };
}

/**
 * The record of a request that died with its process (crash, timeout, kill -9): charged at its reserved
 * worst case, since the upstream may have generated up to that much. A later real record replaces it.
 */
export function lostUsageRecord(a: AdmittedRequest, sweptAt: number): UsageRecord {
  return {
    requestId: a.requestId,
    admittedAt: a.admittedAt,
    endedAt: sweptAt,
    day: a.day,
    ...recordAttribution(a),
    model: a.model,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costMicros: a.reservedMicros,
    estimated: true,
    unpriced: false,
    status: 'lost',
    httpStatus: 0,
    stream: a.stream ?? false,
    totalMs: Math.max(0, sweptAt - a.admittedAt),
    attempts: 0,
    fallback: false,
    errorCode: 'lost',
    reservedMicros: a.reservedMicros,
    softBudgets: a.softBudgets,
  };
}

export function buildUsageRecord(input: {
  requestId: string;
  admittedAt: number;
  attribution: Attribution;
  model: string;
  outcome: RequestOutcome;
  costMicros: number;
  unpriced: boolean;
  evidence?: RequestEvidence;
  reservedMicros?: number;
  softBudgets?: SoftBudgetCharge[];
}): UsageRecord {
  const { attribution: a, outcome: o } = input;
  const usage: TokenUsage = o.usage ?? ZERO_USAGE;
  return {
    requestId: input.requestId,
    admittedAt: input.admittedAt,
    endedAt: o.endedAt,
    day: new Date(input.admittedAt).toISOString().slice(0, 10),
    ...recordAttribution(a),
    model: input.model,
    provider: o.provider,
    upstreamModel: o.upstreamModel,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cacheReadTokens: usage.cacheReadTokens,
    cacheWriteTokens: usage.cacheWriteTokens,
    reasoningTokens: usage.reasoningTokens,
    costMicros: input.costMicros,
    estimated: o.usage !== undefined && o.usageEstimated,
    unpriced: input.unpriced,
    usageClamped: usage.clamped === true,
    status: o.status,
    httpStatus: o.httpStatus,
    stream: o.stream,
    ttftMs: o.ttftMs,
    totalMs: o.totalMs,
    attempts: o.attempts,
    fallback: o.fallback,
    errorCode: o.errorCode,
    ...input.evidence,
    reservedMicros: input.reservedMicros,
    softBudgets: input.softBudgets,
  };
}

/** The (dimension, value) pairs a record is rolled up under. */
export function dimensionValues(r: Pick<UsageRecord, 'keyId' | 'team' | 'customer' | 'feature' | 'model' | 'environment'>): Array<{ dimension: UsageDimension; value: string }> {
  return [
    { dimension: 'key', value: r.keyId },
    { dimension: 'team', value: r.team ?? NONE },
    { dimension: 'customer', value: r.customer ?? NONE },
    { dimension: 'feature', value: r.feature ?? NONE },
    { dimension: 'model', value: r.model },
    { dimension: 'environment', value: r.environment ?? NONE },
  ];
}

/** Request records expire this long after the request ended (DynamoDB TTL, epoch seconds). */
export function recordTtlSeconds(endedAtMs: number, ttlDays: number): number {
  return Math.floor(endedAtMs / 1_000) + ttlDays * 86_400;
}
