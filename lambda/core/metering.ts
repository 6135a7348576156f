/**
 * What one settled request records, pure: the per-request record and the dimension values its usage is
 * rolled up under. Everything is attributed to the UTC day/month of *admission*, the same period its
 * budget reservations were made in, so a request that straddles midnight is counted once, in one period.
 */
import type { Attribution, OutcomeStatus, RequestOutcome } from './gatekeeper';
import type { RequestEvidence } from './request-evidence';
import { ZERO_USAGE, type TokenUsage } from './usage';

export const USAGE_DIMENSIONS = ['key', 'team', 'customer', 'feature', 'model', 'environment'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

/** Team, customer, feature and environment ids: no `#` or `:` (they delimit item keys and budget names). */
export const ATTRIBUTION_ID = /^[A-Za-z0-9][A-Za-z0-9._@+/-]{0,127}$/;

/** Rolled-up value for requests without a team, customer, feature or environment. */
const NONE = '-';

export interface UsageRecord {
  requestId: string;
  /** Epoch ms. */
  admittedAt: number;
  endedAt: number;
  /** `2026-11-25`: the admission day. */
  day: string;
  keyId: string;
  keyName?: string;
  team?: string;
  customer?: string;
  environment?: string;
  feature?: string;
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
  status: OutcomeStatus;
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
}): UsageRecord {
  const { attribution: a, outcome: o } = input;
  const usage: TokenUsage = o.usage ?? ZERO_USAGE;
  return {
    requestId: input.requestId,
    admittedAt: input.admittedAt,
    endedAt: o.endedAt,
    day: new Date(input.admittedAt).toISOString().slice(0, 10),
    keyId: a.keyId,
    keyName: a.keyName,
    team: a.team,
    customer: a.customer,
    environment: a.environment,
    feature: a.feature,
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
