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

export const requestRecordKey = (day: string, endedAtMs: number, requestId: string): LedgerKey => ({
  pk: `req#${day}`,
  sk: `${new Date(endedAtMs).toISOString()}#${requestId}`,
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
