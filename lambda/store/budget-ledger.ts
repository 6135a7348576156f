/**
 * Hard and soft budgets on DynamoDB, without transactions (so it runs on dynalite too).
 *
 * A budget's counter item (per period) holds `committed` (spent + reserved), `reserved`, `spent` and one
 * top-level `lease_<id>` attribute per open reservation. Every state change of a reservation is ONE
 * conditional UpdateItem on that item, so the counter and the lease can never disagree:
 *   reserve   ADD committed/reserved, SET lease        if committed <= limit - cost
 *   settle    REMOVE lease, ADD actual to spent        if the lease exists
 *   sweep     REMOVE lease, SET swept tombstone,       if the lease exists (request presumed dead):
 *             spent += reservation                     charged at its worst case, never released for free
 *   late settle after a sweep: REMOVE tombstone, ADD actual - reservation to spent, if the tombstone exists
 * A repeated write (an SDK retry after a lost response) fails its condition and changes nothing (reserve
 * also requires the lease to be absent, and a retry that finds its own lease is recognised as reserved).
 *
 * The sweeper finds expired leases through a small lease index item written in the same concurrent round
 * as the reservations; admission succeeds only when the index write did, so an admitted request that
 * dies always leaves an index entry leading to its reservations. An index entry whose reservations never
 * happened (a refused or failed admission) is harmless: the sweeper finds no lease on those counters.
 * A refused admission deletes its index entry only when every reservation is known to be gone; a
 * reservation write that failed ambiguously (it may have landed) is released conditionally, and if even
 * that fails the entry stays, so the sweeper releases the reservation after the lease expires.
 */
import { copyOwn } from '../core/plain-object';
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import { shardCaps, type BudgetScope, type EffectiveBudget } from '../core/budgets';
import type { AdmittedRequest } from '../core/metering';
import { AmbiguousWriteError, conditionFailedItem, isConditionalCheckFailed, num, readItems, type Item } from './dynamo';
import {
  budgetCounterKey,
  leaseAttr,
  leaseIndexKey,
  sweptAttr,
  thresholdMarkerKey,
  type LedgerKey,
} from './item-keys';

/** Lease index shards: the index is written once per hard-budgeted request. */
export const LEASE_INDEX_SHARDS = 8;
/**
 * Lease index items outlive their expiry this long, then DynamoDB's TTL deletes them (free). Settlement
 * does not delete them: the sweeper (every few minutes) must run within this time of a lease's expiry.
 */
export const LEASE_INDEX_TTL_SECONDS = 7 * 86_400;

export interface Reservation {
  budget: EffectiveBudget;
  /** The period key the reservation was made in; settlement charges the same period. */
  period: string;
  shard?: number;
  key: LedgerKey;
  costMicros: number;
}

export interface Lease {
  leaseId: string;
  expiresAt: number;
  index: LedgerKey;
}

/** What a lease index entry says about its request, for the sweeper. */
export interface LeaseSubject {
  /** The admitted request: the sweeper writes its `lost` record if none exists when the lease expires. */
  request?: AdmittedRequest;
  recordTtlDays?: number;
  /** The admission was refused: leftover (ambiguous) reservations are released, and nothing is recorded. */
  refused?: boolean;
}

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | { ok: false; budget: EffectiveBudget; period: string; committedMicros: number; costMicros: number };

/** Spend on one counter before and after a settlement, for threshold alerts. */
export interface SpendChange {
  budget: EffectiveBudget;
  period: string;
  shard?: number;
  beforeMicros: number;
  afterMicros: number;
}

export interface BudgetTotals {
  spentMicros: number;
  reservedMicros: number;
  committedMicros: number;
  requests: number;
  /**
   * Of `spentMicros`, what the sweeper charged for admission leases whose holder stopped writing them (a
   * crash, or a Lambda container frozen past its hold): headroom held, not necessarily used.
   */
  reclaimedMicros: number;
}

export interface DynamoBudgetLedgerOptions {
  /** Shards of the global budget counter (config.metering.globalBudgetShards). */
  globalShards: number;
  random?: () => number;
}

export class DynamoBudgetLedger {
  private readonly globalShards: number;
  private readonly random: () => number;

  constructor(
    private readonly doc: DocumentClient,
    private readonly table: string,
    opts: DynamoBudgetLedgerOptions,
  ) {
    this.globalShards = opts.globalShards;
    this.random = opts.random ?? Math.random;
  }

  /** Counter items a budget may use in a period (all shards of the global budget). */
  counterKeys(budget: Pick<EffectiveBudget, 'scope' | 'id'>, period: string): LedgerKey[] {
    if (!this.sharded(budget.scope)) return [budgetCounterKey(budget.scope, budget.id, period)];
    return Array.from({ length: this.globalShards }, (_, s) => budgetCounterKey(budget.scope, budget.id, period, s));
  }

  /** A lease and its index key (random shard), before anything is written. */
  newLease(leaseId: string, expiresAt: number): Lease {
    return { leaseId, expiresAt, index: leaseIndexKey(Math.floor(this.random() * LEASE_INDEX_SHARDS), expiresAt, leaseId) };
  }

  /**
   * Write the lease index entry (concurrently with the reservations): it lists every counter a
   * reservation may land on, and is not deleted at settlement (TTL removes it, see LEASE_INDEX_TTL_SECONDS).
   * Writing the same lease again is harmless (the same item is put).
   */
  async openLease(
    leaseId: string,
    expiresAt: number,
    counters: ReadonlyArray<{ key: LedgerKey; costMicros: number }>,
    lease: Lease = this.newLease(leaseId, expiresAt),
    about: LeaseSubject = {},
  ): Promise<Lease> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: this.leaseIndexItem(leaseId, expiresAt, counters, lease, about) }));
    return { leaseId, expiresAt, index: lease.index };
  }

  /** The lease index entry openLease writes (a caller may write it itself, e.g. batched: group-commit.ts). */
  leaseIndexItem(
    leaseId: string,
    expiresAt: number,
    counters: ReadonlyArray<{ key: LedgerKey; costMicros: number }>,
    lease: Lease = this.newLease(leaseId, expiresAt),
    about: LeaseSubject = {},
  ): Item {
    // Key by key, not spreads with keys after them: Node 20 makes a new hidden class per call for those (plain-object.ts).
    const item: Item = copyOwn({}, lease.index);
    item.leaseId = leaseId;
    item.expiresAt = expiresAt;
    item.counters = counters.map((c) => ({ pk: c.key.pk, sk: c.key.sk, costMicros: c.costMicros }));
    copyOwn(item, about);
    item.ttl = Math.floor(expiresAt / 1_000) + LEASE_INDEX_TTL_SECONDS;
    return item;
  }

  /** Delete an index entry early (refused admissions), so the sweeper has less to look at. */
  async closeLease(lease: Lease): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: lease.index }));
  }

  /**
   * Reserve `costMicros` against a hard budget: succeeds only if committed + cost stays within the limit.
   * Throws `AmbiguousWriteError<Reservation>` when a reservation write failed without a verdict (it may have
   * landed): `pending` names the counter, for a conditional `release`.
   */
  async reserve(budget: EffectiveBudget, period: string, costMicros: number, leaseId: string): Promise<ReserveResult> {
    if (!this.sharded(budget.scope)) {
      return this.reserveOn(budget, period, undefined, budget.limitMicros, costMicros, leaseId);
    }
    // The cap is split over the shards; each shard enforces its share, so the shares' sum is never exceeded.
    // Start at a random shard and move on when one is full.
    const caps = shardCaps(budget.limitMicros, this.globalShards);
    const start = Math.floor(this.random() * this.globalShards);
    let committed = 0;
    for (let i = 0; i < this.globalShards; i++) {
      const shard = (start + i) % this.globalShards;
      if (caps[shard] < costMicros) continue;
      const r = await this.reserveOn(budget, period, shard, caps[shard], costMicros, leaseId);
      if (r.ok) return r;
      committed += r.committedMicros;
    }
    return { ok: false, budget, period, committedMicros: committed, costMicros };
  }

  private async reserveOn(
    budget: EffectiveBudget,
    period: string,
    shard: number | undefined,
    capMicros: number,
    costMicros: number,
    leaseId: string,
  ): Promise<ReserveResult> {
    const key = budgetCounterKey(budget.scope, budget.id, period, shard);
    const headroom = capMicros - costMicros;
    if (headroom < 0) return { ok: false, budget, period, committedMicros: 0, costMicros };
    const reservation: Reservation = { budget, period, shard, key, costMicros };
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #lease = :cost, limitMicros = :limit ADD committed :cost, reserved :cost',
          // The lease must be absent: an SDK retry of a write that landed must not add the cost twice.
          ConditionExpression: 'attribute_not_exists(#lease) AND (attribute_not_exists(committed) OR committed <= :headroom)',
          ExpressionAttributeNames: { '#lease': leaseAttr(leaseId) },
          ExpressionAttributeValues: { ':cost': costMicros, ':limit': capMicros, ':headroom': headroom },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, reservation };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw new AmbiguousWriteError(err, reservation);
      const old = conditionFailedItem(err) ?? (await this.read(key));
      if (old?.[leaseAttr(leaseId)] !== undefined) return { ok: true, reservation }; // a retry: the first attempt landed
      return { ok: false, budget, period, committedMicros: num(old?.committed), costMicros };
    }
  }

  /**
   * Give a reservation back without charging (the request was rejected before reaching a provider).
   * Conditional on the lease, so it is idempotent and safe for a reservation that may never have landed.
   */
  async release(r: Reservation, leaseId: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: r.key,
          UpdateExpression: 'REMOVE #lease ADD committed :neg, reserved :neg',
          ConditionExpression: 'attribute_exists(#lease)',
          ExpressionAttributeNames: { '#lease': leaseAttr(leaseId) },
          ExpressionAttributeValues: { ':neg': -r.costMicros },
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err; // already released: nothing to do
    }
  }

  /**
   * Turn a reservation into actual spend, exactly once. Returns the spend change, or undefined when this
   * settlement had already been applied (a retried write).
   */
  async settle(r: Reservation, leaseId: string, actualMicros: number): Promise<SpendChange | undefined> {
    const names = { '#lease': leaseAttr(leaseId) };
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: r.key,
          UpdateExpression: 'REMOVE #lease ADD committed :delta, reserved :negReserved, spent :actual, requests :one',
          ConditionExpression: 'attribute_exists(#lease)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':delta': actualMicros - r.costMicros, ':negReserved': -r.costMicros, ':actual': actualMicros, ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return this.change(r, num(out.Attributes?.spent), actualMicros);
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      const old = conditionFailedItem(err) ?? (await this.read(r.key));
      if (old?.[sweptAttr(leaseId)] === undefined) return undefined; // settled already
      return this.settleAfterSweep(r, leaseId, actualMicros);
    }
  }

  /** The sweeper charged this lease at its reservation (the request outlived it): correct to the actual cost. */
  private async settleAfterSweep(r: Reservation, leaseId: string, actualMicros: number): Promise<SpendChange | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: r.key,
          UpdateExpression: 'REMOVE #swept ADD committed :delta, spent :delta',
          ConditionExpression: 'attribute_exists(#swept)',
          ExpressionAttributeNames: { '#swept': sweptAttr(leaseId) },
          ExpressionAttributeValues: { ':delta': actualMicros - r.costMicros },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return this.change(r, num(out.Attributes?.spent), actualMicros - r.costMicros);
    } catch (err) {
      if (isConditionalCheckFailed(err)) return undefined;
      throw err;
    }
  }

  /** Soft budgets are never reserved: spend is added at settlement and only drives alerts. */
  async charge(budget: EffectiveBudget, period: string, actualMicros: number): Promise<SpendChange> {
    const shard = this.sharded(budget.scope) ? Math.floor(this.random() * this.globalShards) : undefined;
    const key = budgetCounterKey(budget.scope, budget.id, period, shard);
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: key,
        UpdateExpression: 'SET limitMicros = :limit ADD committed :actual, spent :actual, requests :one',
        ExpressionAttributeValues: { ':actual': actualMicros, ':one': 1, ':limit': budget.limitMicros },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return this.change({ budget, period, shard, key, costMicros: 0 }, num(out.Attributes?.spent), actualMicros);
  }

  /**
   * The sweeper found this lease still open after it expired: the request died without settling. It is
   * charged at its reservation (the upstream may have generated up to that much), never released for
   * free; the `swept_` tombstone lets a late real settlement correct the charge to the actual cost.
   * False when the lease was settled in between (nothing written).
   */
  async chargeExpired(counter: LedgerKey, leaseId: string, costMicros: number): Promise<boolean> {
    return this.conditional(counter, {
      UpdateExpression: 'REMOVE #lease SET #swept = :cost ADD reserved :neg, spent :cost, requests :one',
      ConditionExpression: 'attribute_exists(#lease)',
      ExpressionAttributeNames: { '#lease': leaseAttr(leaseId), '#swept': sweptAttr(leaseId) },
      ExpressionAttributeValues: { ':cost': costMicros, ':neg': -costMicros, ':one': 1 },
    });
  }

  /** An expired lease whose request's record exists: settle it at the record's cost (the settle write was lost). */
  async settleExpired(counter: LedgerKey, leaseId: string, costMicros: number, actualMicros: number): Promise<boolean> {
    return this.conditional(counter, {
      UpdateExpression: 'REMOVE #lease ADD committed :delta, reserved :neg, spent :actual, requests :one',
      ConditionExpression: 'attribute_exists(#lease)',
      ExpressionAttributeNames: { '#lease': leaseAttr(leaseId) },
      ExpressionAttributeValues: { ':delta': actualMicros - costMicros, ':neg': -costMicros, ':actual': actualMicros, ':one': 1 },
    });
  }

  /** An expired lease of a refused admission (its reservation write was ambiguous): give it back. */
  async releaseExpired(counter: LedgerKey, leaseId: string, costMicros: number): Promise<boolean> {
    return this.conditional(counter, {
      UpdateExpression: 'REMOVE #lease ADD committed :neg, reserved :neg',
      ConditionExpression: 'attribute_exists(#lease)',
      ExpressionAttributeNames: { '#lease': leaseAttr(leaseId) },
      ExpressionAttributeValues: { ':neg': -costMicros },
    });
  }

  private async conditional(
    key: LedgerKey,
    u: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Item },
  ): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand({ TableName: this.table, Key: key, ...u }));
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  /** Consistent reads of many counters, by itemId(key). */
  readMany(keys: ReadonlyArray<LedgerKey>): Promise<Map<string, Item>> {
    return readItems(this.doc, this.table, keys);
  }

  /**
   * Claim the one alert for (budget, period, threshold): a conditional put only one caller can win.
   * True when this caller should send the notification.
   */
  async claimThresholdAlert(scope: BudgetScope, id: string, period: string, percent: number, detail: Item): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...thresholdMarkerKey(scope, id, period, percent), ...detail },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  /** A budget's counters for a period, summed over shards. */
  async totals(budget: Pick<EffectiveBudget, 'scope' | 'id'>, period: string): Promise<BudgetTotals> {
    const keys = this.counterKeys(budget, period);
    const totals: BudgetTotals = { spentMicros: 0, reservedMicros: 0, committedMicros: 0, requests: 0, reclaimedMicros: 0 };
    const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
    let items = out.Responses?.[this.table] ?? [];
    if (out.UnprocessedKeys?.[this.table]?.Keys?.length) {
      // Rare (throttling): fall back to single reads rather than loop.
      items = (await Promise.all(keys.map((k) => this.read(k)))).filter((i): i is Item => i !== undefined);
    }
    for (const item of items) {
      totals.spentMicros += num(item.spent);
      totals.reservedMicros += num(item.reserved);
      totals.committedMicros += num(item.committed);
      totals.requests += num(item.requests);
      totals.reclaimedMicros += num(item.reclaimed);
    }
    return totals;
  }

  private sharded(scope: BudgetScope): boolean {
    return scope === 'global' && this.globalShards > 1;
  }

  private change(r: Reservation, afterMicros: number, actualMicros: number): SpendChange {
    return { budget: r.budget, period: r.period, shard: r.shard, beforeMicros: afterMicros - actualMicros, afterMicros };
  }

  private async read(key: LedgerKey): Promise<Item | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    return out.Item;
  }
}
