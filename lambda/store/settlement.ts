/**
 * Settlement as data: a request's record plus the reservations it settles. Writing it is idempotent
 * (the record is a conditional put on a key fixed at admission; each reservation settles through its
 * lease attribute), so it is retried with backoff until a deadline, and what still cannot be written
 * goes to a durable outbox (SQS in AWS, an append-only file locally) whose replays, however many, count
 * once. Rollups and soft budgets are not written here: the deriver derives them from the record.
 */
import type { UsageRecord } from '../core/metering';
import type { DynamoBudgetLedger, Reservation, SpendChange } from './budget-ledger';
import type { UsageRecorder } from './usage-store';

export interface SettlementMessage {
  /** Schema version of the message, for replays by a newer build. */
  kind: 'tollgate.settlement.v1';
  record: UsageRecord;
  leaseId: string;
  reservations: Reservation[];
  /** The record's TTL (days), as the writer's config said. */
  recordTtlDays: number;
}

/** Where settlements go when the store cannot take them before the deadline. Never drops a message. */
export interface SettlementOutbox {
  put(message: SettlementMessage): Promise<void>;
}

/** Write a settlement (the record first: it is the source of truth), idempotently. */
export async function writeSettlement(
  deps: { recorder: UsageRecorder; ledger: DynamoBudgetLedger },
  m: SettlementMessage,
): Promise<SpendChange[]> {
  await deps.recorder.commit(m.record, m.recordTtlDays);
  const changes = await Promise.all(m.reservations.map((r) => deps.ledger.settle(r, m.leaseId, m.record.costMicros)));
  return changes.filter((c): c is SpendChange => c !== undefined);
}

export function isSettlementMessage(v: unknown): v is SettlementMessage {
  const m = v as Partial<SettlementMessage> | null;
  return m?.kind === 'tollgate.settlement.v1' && typeof m.record?.requestId === 'string' && typeof m.leaseId === 'string' && Array.isArray(m.reservations);
}

export interface RetryOptions {
  /** Give up (rethrow the last error) once this epoch-ms time has passed. */
  deadline: number;
  now?: () => number;
  /** First backoff; doubles each attempt (with jitter), capped at 2 s. */
  baseDelayMs?: number;
}

/** Run `fn` until it succeeds or the deadline passes, backing off exponentially with full jitter. */
export async function retryUntil<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const base = opts.baseDelayMs ?? 50;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = Math.random() * Math.min(2_000, base * 2 ** attempt);
      if (now() + wait >= opts.deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
