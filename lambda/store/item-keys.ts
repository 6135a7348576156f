/**
 * Every item key the store writes, in one place (the table design in code; docs/table-design.md explains
 * it). Ids never contain `#`: key ids are generated, and team/customer/feature ids are validated.
 */
import type { BudgetScope } from '../core/budgets';
import type { RateLimitScope, RateWindow } from '../core/limits';
import type { UsageDimension } from '../core/metering';

export interface LedgerKey {
  pk: string;
  sk: string;
}

// ---- keys table (pk only) ----
export const apiKeyPk = (keyHash: string) => `key#${keyHash}`;
export const keyIdRefPk = (keyId: string) => `keyid#${keyId}`;
export type PolicyScope = Exclude<BudgetScope, 'key'>;
export const policyPk = (scope: PolicyScope, id: string) => `policy#${scope}#${id}`;

// ---- ledger table (pk, sk) ----
export const rateWindowKey = (scope: RateLimitScope, id: string, window: RateWindow): LedgerKey => ({
  pk: `rl#${scope}#${id}`,
  sk: window.label,
});

/** A budget's counter for one period (`2026-11-25` or `2026-11`); the global budget has one per shard. */
export const budgetCounterKey = (scope: BudgetScope, id: string, period: string, shard?: number): LedgerKey => ({
  pk: shard === undefined ? `budget#${scope}#${id}` : `budget#${scope}#${id}#s${shard}`,
  sk: period,
});

/** One marker per budget, period and threshold: its conditional put is what makes an alert exactly-once. */
export const thresholdMarkerKey = (scope: BudgetScope, id: string, period: string, percent: number): LedgerKey => ({
  pk: `budget#${scope}#${id}`,
  sk: `${period}#notified#${percent}`,
});

/** The lease index the sweeper queries: expired leases sort first within each shard. */
export const leaseIndexPk = (shard: number) => `lease#${shard}`;
export const leaseIndexKey = (shard: number, expiresAtMs: number, leaseId: string): LedgerKey => ({
  pk: leaseIndexPk(shard),
  sk: `${String(expiresAtMs).padStart(15, '0')}#${leaseId}`,
});
/** Sorts after every index entry expiring at or before `nowMs` (lease ids never contain `~`). */
export const leaseIndexUpperBound = (nowMs: number) => `${String(nowMs).padStart(15, '0')}#~`;
/**
 * Where the sweeper got to in a lease index shard: entries expiring at or before `sweptUpTo` were handled.
 * Its sk sorts after every index entry (a letter after the 15 digits' range), so no sweep Query returns it.
 */
export const leaseSweepCursorKey = (shard: number): LedgerKey => ({ pk: leaseIndexPk(shard), sk: 'sweep-cursor' });

/** Top-level attributes on a budget counter: an open lease, and a lease the sweeper released. */
export const leaseAttr = (leaseId: string) => `lease_${leaseId}`;
export const sweptAttr = (leaseId: string) => `swept_${leaseId}`;

/**
 * A request's record: the key is fixed at admission (day, admission time, request id), so every writer of
 * that request's record (settlement, its retries, the outbox replay, the sweeper's `lost` record) names
 * the same item and a conditional put makes it exactly one.
 */
export const requestRecordKey = (day: string, admittedAtMs: number, requestId: string): LedgerKey => ({
  pk: `req#${day}`,
  sk: `${new Date(admittedAtMs).toISOString()}#${requestId}`,
});

/** Day rollups, partitioned by dimension and month so a month or a day is one Query. */
export const rollupPk = (dimension: UsageDimension, month: string) => `usage#${dimension}#${month}`;
export const rollupKey = (dimension: UsageDimension, day: string, value: string): LedgerKey => ({
  pk: rollupPk(dimension, day.slice(0, 7)),
  sk: `${day}#${value}`,
});

/** Where the sweeper finds admission leases (lambda/store/admission-leases.ts): few entries, one per process and counter. */
export const ADMISSION_LEASE_INDEX_SHARDS = 4;
export const admissionLeaseIndexPk = (shard: number) => `alease#${shard}`;
export const admissionLeaseIndexKey = (shard: number, leaseId: string): LedgerKey => ({ pk: admissionLeaseIndexPk(shard), sk: leaseId });

/**
 * Derivation work list: one marker per record version still to be rolled up, written after the record.
 * Spread over DERIVE_SHARDS partitions by request id; the deriver's cursor item holds its sequence and
 * the plan it is applying (see usage-deriver.ts).
 */
export const DERIVE_SHARDS = 8;
export const deriveMarkerPk = (shard: number) => `derive#${shard}`;
export const deriveMarkerKey = (record: LedgerKey, requestId: string, version: number): LedgerKey => ({
  pk: deriveMarkerPk(shardOf(requestId, DERIVE_SHARDS)),
  sk: `${record.pk}#${record.sk}#v${version}`,
});
export const deriveCursorKey: LedgerKey = { pk: 'derive#cursor', sk: 'state' };
/**
 * A deriving process's watermark: every record it wrote with a sequence number at or below `wm` was derived
 * (usage-deriver.ts). One small item per process (TTL'd), in one partition.
 */
export const deriveWatermarkKey = (processId: string): LedgerKey => ({ pk: 'derive#wm', sk: processId });

/** A stable shard for an id (FNV-1a), so the same record's marker always lands on the same item. */
function shardOf(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h % shards;
}
