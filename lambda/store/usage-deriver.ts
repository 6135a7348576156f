/**
 * Rollups and soft-budget spend, derived from request records exactly once, in batches, off the
 * request path. DynamoDB has no transactions here (dynalite), so exactly-once rests on four things:
 *
 * 1. Work list: the records this process committed wait in memory (enqueue(); no write on the request
 *    path); other record versions to derive (outbox replays, the sweeper's `lost` records and corrections,
 *    records a process wrote and died before deriving) have a marker item (`derive#<n>`). A record whose
 *    process died before deriving it is found by the sweeper when the request's lease expires (not
 *    derived, by the test below) and marked then.
 * 2. Write-ahead plan: one cursor item holds the deriver's sequence number. A pass reads a batch of markers
 *    and their records, sums each target item's delta, and writes that plan onto the cursor
 *    (conditional on the sequence and on no plan being open) before touching any target. Whoever finds a
 *    plan open (a crashed pass, another process) applies it again before anything else.
 * 3. High-water marks: every target update is `ADD deltas SET dseq = :seq` if `dseq < :seq`, so applying a
 *    plan twice changes each target once; markers are deleted, then the cursor moves to `seq` and the plan
 *    is removed.
 * 4. Proof of derivation, without a write per record. A record this process writes carries its process id
 *    `dp` and a sequence number `dn` claimed just before the put (claim()). The process knows which of its
 *    numbers are unresolved: claimed with the put in flight or failed (it may have landed), or queued and
 *    not yet planned. A plan carries the process's watermark: the highest n with every number ≤ n planned
 *    (in this plan or an earlier one) or known not to be on any record; applying the plan writes it once
 *    (`SET wm` if `wm < :n`) on a small per-process item (`derive#wm` / `<dp>`, TTL'd after the records).
 *    A record of this plan above the watermark (a lower number is still unresolved) gets `dv = v` instead,
 *    as does every record derived from a marker and every replacement version (v 2). A number whose put
 *    failed and was not retried is looked up CLAIM_RESOLVE_MS later (resolveStaleClaims): derived from
 *    memory if the item carries it, freed if the item exists without it, or if there is still no item
 *    CLAIM_FREE_MS after the failure (the put can no longer land). So a record's
 *    derived version is `dv`, or at least 1 when `dn ≤ wm(dp)` (derivedVersion()), and the sweeper and
 *    this planner both use that test (the recorder's duplicate path marks on `dv` alone, except this
 *    process's own version 1: a spare marker only costs a write). The planner reads records and watermarks after reading
 *    the cursor and writes its plan only if the cursor has not moved, so what it read is what every earlier
 *    plan left; a watermark never covers a record that was not derived.
 * Plans are strictly sequential (one open at a time), which is what makes one high-water mark per
 * target enough. Any number of processes may run passes: they contend on the cursor, never double count.
 */
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import type { EffectiveBudget } from '../core/budgets';
import { contributionDelta, contributionOf, dimensionValues, type RecordContribution, type SoftBudgetCharge, type UsageRecord } from '../core/metering';
import type { SpendChange } from './budget-ledger';
import { countingClient, isConditionalCheckFailed, type CallCount, itemId, num, readItems, unlessConditionFailed, type Item } from './dynamo';
import { insightChanges } from './insight-rollups';
import { budgetCounterKey, DERIVE_SHARDS, deriveCursorKey, deriveMarkerPk, deriveWatermarkKey, rollupKey, type LedgerKey } from './item-keys';

/**
 * Queued records a pass reads and plans at most (with the watermark key: 5 BatchGets of up to 100 keys).
 * Records of the same key, team, model and day share their target items, so a plan's writes grow with the
 * distinct targets, not with its records: a steady stream of one key's requests is derived in one pass per
 * scheduled interval, about 10 writes for hundreds of records, where passes of 50 made that every 50 records.
 */
const RECORDS_PER_PLAN = 400;
/**
 * A plan's size (JSON of its targets, records and markers) at most: the plan is one attribute of the cursor
 * item, and DynamoDB refuses an item over 400 KB (its size counts names and values, about what JSON counts).
 * A plan over it is cut to fewer records (the rest wait for the next pass), down to one.
 */
export const PLAN_BYTES = 256 * 1024;
/** Markers read per scanning pass (over the shards); read only when fewer queued records than this were picked. */
const MARKERS_PER_PASS = 50;
/** Passes per kick, so a backlog is drained in bounded steps. */
const MAX_PASSES = 100;
/**
 * A claimed number whose put failed (no attempt in flight) is looked up this long after the failure, and
 * at each pass after that until it is resolved: derived from memory once the item carries it, freed once
 * the item exists without it (the sweeper's `lost` record, or another attempt: the put's condition can no
 * longer pass).
 */
export const CLAIM_RESOLVE_MS = 15 * 60_000;
/**
 * With no item at all, a number is freed only this long after the failure. DynamoDB refuses a request
 * whose signature is more than 15 minutes old, so a put still in some queue cannot land after this (4×
 * that window); dynalite and DynamoDB Local check no signature time, but hold no request that long.
 */
export const CLAIM_FREE_MS = 60 * 60_000;
/** A watermark item outlives the records it covers by this much (TTL deletion is not ordered). */
const WATERMARK_TTL_MARGIN_SECONDS = 30 * 86_400;

interface Target {
  key: LedgerKey;
  add: Record<string, number>;
  set: Record<string, string | number>;
  /** Soft budget counters: for alerts and utilisation metrics. */
  budget?: { budget: EffectiveBudget; period: string; shard?: number };
}

interface Plan {
  seq: number;
  targets: Target[];
  /** Records that get `dv = v` (derived from a marker, a replacement version, or above the watermark). */
  records: Array<{ key: LedgerKey; v: number }>;
  markers: LedgerKey[];
  /** The planning process's watermark, when a record of this plan relies on it. */
  watermark?: { process: string; n: number; ttl: number };
}

/** A number claimed for a record whose put has not landed as far as this process knows. */
interface Claim {
  key: LedgerKey;
  n: number;
  /** Puts with this number in flight. */
  inFlight: number;
  /** When the last of them failed (epoch ms). */
  failedAt: number;
}

/** A record version this process committed and has not planned yet. */
interface Queued {
  key: LedgerKey;
  v: number;
  /** The sequence number the record carries (`dn`), when this process wrote version 1 with one. */
  n?: number;
}

/**
 * What the usage recorder needs from the deriver of its process: a sequence number for each record it
 * writes, and the outcome of that write.
 */
export interface DeriveQueue {
  readonly processId: string;
  /** The number the record about to be written carries: the record's unresolved one if a put of it failed before. */
  claim(key: LedgerKey): number;
  /** A version this process wrote (`n`: the number it carries): derive it from memory. */
  enqueue(key: LedgerKey, v: number, n?: number): void;
  /**
   * The put with the record's claimed number was refused (the item exists). `carried`: this process's
   * number on the item and the item's version, if it carries one (an earlier attempt's put landed after all).
   */
  refused(key: LedgerKey, carried?: { n: number; v: number }): void;
  /** The put with the record's claimed number failed: it may have landed; the number stays unresolved. */
  failed(key: LedgerKey): void;
}

/**
 * A record item's derived version: `dv`, or at least 1 when its writer's watermark covers its sequence
 * number (a replacement version keeps the number of the version 1 it replaced). `watermarks`: process id
 * → watermark (absent: 0).
 */
export function derivedVersion(item: Item, watermarks: ReadonlyMap<string, number>): number {
  const dv = num(item.dv);
  const covered = typeof item.dp === 'string' && typeof item.dn === 'number' && (watermarks.get(item.dp) ?? 0) >= item.dn;
  return covered ? Math.max(dv, 1) : dv;
}

/** Whether a record item is derived up to its version. */
export function isDerived(item: Item, watermarks: ReadonlyMap<string, number>): boolean {
  return derivedVersion(item, watermarks) >= (num(item.v) || 1);
}

/** The processes whose watermark the derived test of these items needs (not derived by `dv` alone). */
export function watermarkProcesses(items: Iterable<Item>): string[] {
  const out = new Set<string>();
  for (const item of items) if (typeof item.dp === 'string' && num(item.dv) < (num(item.v) || 1)) out.add(item.dp);
  return [...out];
}

/** Watermarks by process id (consistent reads), added to `into` (a pass's cache). */
export async function readWatermarks(doc: DocumentClient, table: string, processes: Iterable<string>, into = new Map<string, number>()): Promise<Map<string, number>> {
  const missing = [...processes].filter((p) => !into.has(p));
  if (missing.length === 0) return into;
  const found = await readItems(doc, table, missing.map(deriveWatermarkKey));
  for (const p of missing) into.set(p, num(found.get(itemId(deriveWatermarkKey(p)))?.wm));
  return into;
}

export interface UsageDeriverOptions {
  globalShards: number;
  /** Clock for claims (tests); default Date.now. */
  now?: () => number;
  random?: () => number;
  /** Soft-budget spend after each applied target (threshold alerts, utilisation). */
  onSpend?: (changes: SpendChange[]) => Promise<void> | void;
  onError?: (err: unknown, context: string) => void;
}

export class UsageDeriver implements DeriveQueue {
  /** This process's id on the records it writes (`dp`). */
  readonly processId: string = randomUUID();
  /** The last sequence number claimed. */
  private lastClaimed = 0;
  /** Numbers claimed for a record whose put has not landed (in flight, or failed: it may have landed), by itemId. */
  private readonly claims = new Map<string, Claim>();
  private readonly now: () => number;
  /** The latest TTL (epoch s) of a record a watermark of this process covers. */
  private coveredTtl = 0;
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private readonly random: () => number;
  /** Record versions this process committed and has not planned yet: itemId → key and version. */
  private readonly queue = new Map<string, Queued>();
  /** A kick asked for the marker work list to be read too (not only the in-memory queue). */
  private scanMarkers = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly doc: DocumentClient;
  /** Store calls made by passes (all off the request path), for the benchmark. */
  readonly count: CallCount = { calls: 0, reads: 0 };

  constructor(
    doc: DocumentClient,
    private readonly table: string,
    private readonly opts: UsageDeriverOptions,
  ) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.doc = countingClient(doc, this.count);
  }

  /**
   * Derive what is pending. Resolves after a pass that started after this call has finished, so a caller
   * that committed a record sees it rolled up; concurrent callers share passes (that is the batching).
   */
  kick(scanMarkers = true): Promise<void> {
    if (scanMarkers) this.scanMarkers = true;
    if (!this.current) {
      this.current = this.drain().finally(() => (this.current = undefined));
      return this.current;
    }
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.kick(false);
      });
    return this.next;
  }

  claim(key: LedgerKey): number {
    const id = itemId(key);
    let c = this.claims.get(id);
    if (!c) this.claims.set(id, (c = { key, n: ++this.lastClaimed, inFlight: 0, failedAt: 0 }));
    c.inFlight++;
    return c.n;
  }

  failed(key: LedgerKey): void {
    const c = this.claims.get(itemId(key));
    if (!c) return;
    c.inFlight = Math.max(0, c.inFlight - 1);
    c.failedAt = this.now();
  }

  /** A record version this process committed: derived by a later pass, with no marker written for it. */
  enqueue(key: LedgerKey, v: number, n?: number): void {
    const id = itemId(key);
    if (this.queue.size === 0) this.oldestQueuedAt = Date.now();
    if (n !== undefined && this.claims.get(id)?.n === n) this.claims.delete(id);
    const before = this.queue.get(id);
    // A new version of a queued record keeps its number: it stays unresolved until that record is planned.
    this.queue.set(id, { key, v: Math.max(v, before?.v ?? 0), n: n ?? before?.n });
  }

  refused(key: LedgerKey, carried?: { n: number; v: number }): void {
    const id = itemId(key);
    const claimed = this.claims.get(id);
    if (!claimed) return;
    this.claims.delete(id);
    // An earlier attempt's put landed with this number: derive it from memory like any other. Also when
    // a replacement (v 2) carries it now: the version 1 part is not in the totals by this process's doing.
    if (carried?.n === claimed.n) this.enqueue(key, carried.v, claimed.n);
  }

  /**
   * Claims whose put failed CLAIM_RESOLVE_MS ago and was not retried since: the record carries the number
   * (the put landed: derive it from memory) or it never will (the number is free). One read per such claim.
   */
  private async resolveStaleClaims(): Promise<void> {
    const now = this.now();
    const stale = [...this.claims.entries()].filter(([, c]) => c.inFlight === 0 && c.failedAt > 0 && now - c.failedAt >= CLAIM_RESOLVE_MS).map(([id, c]) => ({ id, c, failedAt: c.failedAt }));
    if (stale.length === 0) return;
    const items = await readItems(this.doc, this.table, stale.map((s) => s.c.key));
    for (const { id, c, failedAt } of stale) {
      if (this.claims.get(id) !== c || c.inFlight > 0 || c.failedAt !== failedAt) continue; // retried meanwhile: that attempt tells
      const item = items.get(id);
      // No item yet: the put may still land (freeing the number now would let the watermark cover it underived).
      if (!item && now - failedAt < CLAIM_FREE_MS) continue;
      this.claims.delete(id);
      if (item && item.dp === this.processId && item.dn === c.n) this.enqueue(c.key, num(item.v) || 1, c.n);
    }
  }

  /** The watermark now, if the records `planned` (picked from the queue) were planned: below the lowest number still unresolved. */
  private watermarkWith(planned: ReadonlySet<Queued>): number {
    let low = Infinity;
    for (const c of this.claims.values()) low = Math.min(low, c.n);
    for (const e of this.queue.values()) if (e.n !== undefined && !planned.has(e)) low = Math.min(low, e.n);
    return low === Infinity ? this.lastClaimed : low - 1;
  }

  /** When the oldest record still in the queue was enqueued (epoch ms; undefined when empty). */
  private oldestQueuedAt: number | undefined;

  /**
   * A pass over the queue now if it is due: `maxQueued` records waiting, or the oldest waiting `maxAgeMs`.
   * For a Lambda container, which may be frozen (its timers with it) once the invocation returns.
   */
  async deriveIfDue(maxQueued: number, maxAgeMs: number): Promise<boolean> {
    const due = this.queue.size >= maxQueued || (this.queue.size > 0 && Date.now() - (this.oldestQueuedAt ?? Date.now()) >= maxAgeMs);
    if (due) await this.kick(false);
    return due;
  }

  /** Records waiting in memory (the benchmark and shutdown look at it). */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * A pass over the in-memory queue in `delayMs` (one timer at a time): the records committed meanwhile
   * share it. The timer does not keep the process alive; shutdown and the sweeper call kick() themselves.
   */
  schedule(delayMs: number, onError: (err: unknown) => void): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick(false).catch(onError);
    }, delayMs);
    this.timer.unref();
  }

  /** Stop the scheduled pass (shutdown runs a last kick() itself). */
  cancelSchedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async drain(): Promise<void> {
    for (let i = 0; i < MAX_PASSES; i++) if (!(await this.pass())) return;
  }

  /** One step: finish an open plan, or plan and apply the next batch. False when nothing more is pending. */
  async pass(): Promise<boolean> {
    const cursor = (await this.doc.send(new GetCommand({ TableName: this.table, Key: deriveCursorKey, ConsistentRead: true }))).Item;
    if (cursor?.plan) {
      await this.apply(cursor.plan as Plan);
      return true;
    }
    const seq = num(cursor?.seq) + 1;
    await this.resolveStaleClaims();
    const scanning = this.scanMarkers;
    const { plan, more, fromQueue } = await this.nextPlan(seq, scanning);
    if (!plan) {
      if (scanning && !more) this.scanMarkers = false;
      return more;
    }
    if (plan.targets.length === 0 && plan.records.length === 0 && plan.markers.length === 0 && !plan.watermark) {
      // Everything picked from the queue was read as derived already (a plan that landed though its write
      // failed, re-applied since): derived stays derived (dv and watermarks only rise), so no plan to write.
      this.dequeue(fromQueue);
      return more;
    }
    // Before the plan write, which may land though its answer is lost: the watermark's TTL never falls
    // below a record an earlier watermark covered (an upper bound; harmless if this plan never lands).
    if (plan.watermark) this.coveredTtl = Math.max(this.coveredTtl, plan.watermark.ttl - WATERMARK_TTL_MARGIN_SECONDS);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: deriveCursorKey,
          UpdateExpression: 'SET #plan = :plan, planSeq = :seq',
          ConditionExpression: cursor ? 'seq = :prev AND attribute_not_exists(#plan)' : 'attribute_not_exists(pk)',
          ExpressionAttributeNames: { '#plan': 'plan' },
          ExpressionAttributeValues: { ':plan': plan, ':seq': seq, ...(cursor ? { ':prev': seq - 1 } : {}) },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) return true; // another process planned first: look again
      throw err;
    }
    // Planned: the plan on the cursor now carries these records (whoever applies it derives them). An entry
    // replaced meanwhile (a newer version of the same record) stays for the next pass.
    this.dequeue(fromQueue);
    await this.apply(plan);
    if (scanning && !more) this.scanMarkers = false;
    // Only a backlog that was already there continues the drain; records settled during this pass wait
    // for their own scheduled pass (so a steady trickle is derived in batches, not one pass per record).
    return more;
  }

  /** Entries a plan took (or found derived); one replaced meanwhile (a newer version of the same record) stays. */
  private dequeue(taken: ReadonlyArray<[string, Queued]>): void {
    for (const [id, e] of taken) if (this.queue.get(id) === e) this.queue.delete(id);
    this.oldestQueuedAt = this.queue.size > 0 ? Date.now() : undefined;
    if (this.queue.size === 0) this.cancelSchedule(); // nothing left for the scheduled pass
  }

  /**
   * The next batch's plan: the in-memory queue first, then (when scanning) the markers; `more` when more
   * may be waiting (the queue holds more than a batch, or a marker shard had a full page).
   */
  private async nextPlan(seq: number, scan: boolean): Promise<{ plan?: Plan; more: boolean; fromQueue: Array<[string, Queued]> }> {
    // Lowest numbers first: a batch then leaves no hole below the watermark it carries.
    const picked = [...this.queue.entries()].sort(([, a], [, b]) => (a.n ?? 0) - (b.n ?? 0)).slice(0, RECORDS_PER_PLAN);
    // A backlog is what was queued beyond this batch when it was picked; records settled during this pass wait
    // for their own scheduled pass.
    const queuedBeyond = this.queue.size > picked.length;
    const { markers, more: moreMarkers } = scan && picked.length < MARKERS_PER_PASS ? await this.pendingMarkers() : { markers: [], more: false };
    const backlog = moreMarkers || queuedBeyond;
    if (markers.length === 0 && picked.length === 0) return { more: backlog, fromQueue: picked };
    const recordKeys = new Map<string, LedgerKey>();
    for (const [id, e] of picked) recordKeys.set(id, e.key);
    for (const m of markers) recordKeys.set(itemId(m.record), m.record);
    // Read after the cursor, and the plan is written only if the cursor has not moved since: these reads
    // see everything every earlier plan wrote (dv, watermarks). This process's watermark comes in the same call.
    const ownWatermark = deriveWatermarkKey(this.processId);
    const records = await readItems(this.doc, this.table, [...recordKeys.values(), ownWatermark]);
    const watermarks = new Map([[this.processId, num(records.get(itemId(ownWatermark))?.wm)]]);
    await readWatermarks(this.doc, this.table, watermarkProcesses(records.values()), watermarks);
    // The first `take` records (queued ones first, lowest numbers first, then the markers'), cut until the plan fits.
    for (let take = recordKeys.size; ; take = Math.ceil(take / 2)) {
      const built = this.buildPlan(seq, [...recordKeys].slice(0, take), picked, markers, records, watermarks);
      if (take === 1 || JSON.stringify(built.plan).length <= PLAN_BYTES) {
        const more = backlog || take < recordKeys.size;
        return { plan: built.plan, more, fromQueue: built.fromQueue };
      }
    }
  }

  /** The plan deriving `recordKeys` (read into `records`): the queue entries and markers it takes with them. */
  private buildPlan(
    seq: number,
    recordKeys: Array<[string, LedgerKey]>,
    picked: Array<[string, Queued]>,
    allMarkers: Array<{ key: LedgerKey; record: LedgerKey }>,
    records: ReadonlyMap<string, Item>,
    watermarks: ReadonlyMap<string, number>,
  ): { plan: Plan; fromQueue: Array<[string, Queued]> } {
    const taking = new Set(recordKeys.map(([id]) => id));
    const fromQueue = picked.filter(([id]) => taking.has(id));
    const markers = allMarkers.filter((m) => taking.has(itemId(m.record)));
    const queued = new Map(fromQueue);
    const targets = new Map<string, Target>();
    const planned: Array<{ key: LedgerKey; v: number; n?: number; ttl: number }> = [];
    for (const [id, key] of recordKeys) {
      const item = records.get(id);
      // A marker is written after its record, so the record exists (unless its TTL removed it: nothing to do).
      if (!item) continue;
      const v = num(item.v) || 1;
      const dv = derivedVersion(item, watermarks);
      if (dv >= v) continue; // derived already: a stale marker, or a record another pass derived
      const record = item as unknown as UsageRecord;
      const now = contributionOf(record);
      // dv 0: nothing of this record is in the totals yet; dv 1 < v 2: the lost record's part is.
      const delta = dv === 0 ? now : contributionDelta(now, record.replaced ?? now);
      this.addTargets(targets, record, delta);
      // The watermark can prove only a version 1 this process wrote with the number it queued.
      const n = queued.get(id)?.n;
      const own = v === 1 && n !== undefined && item.dp === this.processId && item.dn === n;
      planned.push({ key, v, n: own ? n : undefined, ttl: num(item.ttl) });
    }
    const wm = this.watermarkWith(new Set(queued.values()));
    const covered = planned.filter((r) => r.n !== undefined && r.n <= wm);
    const ttl = Math.max(this.coveredTtl, ...covered.map((r) => r.ttl));
    const plan: Plan = {
      seq,
      targets: [...targets.values()],
      records: planned.filter((r) => !covered.includes(r)).map(({ key, v }) => ({ key, v })),
      markers: markers.map((m) => m.key),
      ...(covered.length > 0 ? { watermark: { process: this.processId, n: wm, ttl: ttl + WATERMARK_TTL_MARGIN_SECONDS } } : {}),
    };
    return { plan, fromQueue };
  }

  private addTargets(targets: Map<string, Target>, r: UsageRecord, d: RecordContribution): void {
    const bump = (t: Target, field: string, by: number) => (t.add[field] = (t.add[field] ?? 0) + by);
    for (const { dimension, value } of dimensionValues(r)) {
      const key = rollupKey(dimension, r.day, value);
      const id = itemId(key);
      const t = targets.get(id) ?? { key, add: {}, set: { dimension, value, day: r.day } };
      if (dimension === 'key') Object.assign(t.set, { team: r.team ?? '-', keyName: r.keyName ?? '' });
      for (const [field, by] of Object.entries(d)) bump(t, field, by);
      targets.set(id, t);
    }
    // Insight rollups describe real usage: a lost record has none, and a real version is derived only once
    // (it is the last), so its insight rollups come in whole, whether or not a lost one preceded it.
    if (r.status !== 'lost') {
      for (const c of insightChanges(r)) {
        const id = itemId(c.key);
        const t = targets.get(id) ?? { key: c.key, add: {}, set: {} };
        Object.assign(t.set, c.set);
        for (const [field, by] of Object.entries(c.add)) bump(t, field, by);
        targets.set(id, t);
      }
    }
    if (d.costMicros === 0 && d.requests === 0) return;
    for (const b of r.softBudgets ?? []) {
      const shard = b.scope === 'global' && this.opts.globalShards > 1 ? Math.floor(this.random() * this.opts.globalShards) : undefined;
      const key = budgetCounterKey(b.scope, b.id, b.periodKey, shard);
      const id = itemId(key);
      const t = targets.get(id) ?? { key, add: {}, set: { limitMicros: b.limitMicros }, budget: { budget: softBudget(b), period: b.periodKey, shard } };
      bump(t, 'committed', d.costMicros);
      bump(t, 'spent', d.costMicros);
      bump(t, 'requests', d.requests);
      targets.set(id, t);
    }
  }

  private async pendingMarkers(): Promise<{ markers: Array<{ key: LedgerKey; record: LedgerKey }>; more: boolean }> {
    const perShard = Math.ceil(MARKERS_PER_PASS / DERIVE_SHARDS);
    const pages = await Promise.all(
      Array.from({ length: DERIVE_SHARDS }, (_, n) =>
        this.doc.send(
          new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': deriveMarkerPk(n) }, Limit: perShard, ConsistentRead: true }),
        ),
      ),
    );
    return {
      markers: pages.flatMap((p) => (p.Items ?? []).map((i) => ({ key: { pk: String(i.pk), sk: String(i.sk) }, record: i.record as LedgerKey }))),
      more: pages.some((p) => p.LastEvaluatedKey !== undefined),
    };
  }

  /** Apply a plan (again, harmlessly, if it was partly applied), then close it on the cursor. */
  private async apply(plan: Plan): Promise<void> {
    const changes: SpendChange[] = [];
    await Promise.all(
      plan.targets.map(async (t) => {
        const names: Record<string, string> = { '#dseq': 'dseq' };
        const values: Item = { ':seq': plan.seq };
        const sets = ['#dseq = :seq'];
        const adds: string[] = [];
        Object.entries(t.set).forEach(([f, v], i) => {
          names[`#s${i}`] = f;
          values[`:s${i}`] = v;
          sets.push(`#s${i} = :s${i}`);
        });
        Object.entries(t.add).forEach(([f, v], i) => {
          names[`#a${i}`] = f;
          values[`:a${i}`] = v;
          adds.push(`#a${i} :a${i}`);
        });
        // A failed condition: an earlier attempt of this plan applied it.
        const out = await unlessConditionFailed(
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: t.key,
              UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
              ConditionExpression: 'attribute_not_exists(#dseq) OR #dseq < :seq',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              ReturnValues: t.budget ? 'ALL_NEW' : 'NONE',
            }),
          ),
        );
        if (out && t.budget) {
          const after = num(out.Attributes?.spent);
          changes.push({ ...t.budget, beforeMicros: after - (t.add.spent ?? 0), afterMicros: after });
        }
      }),
    );
    const wm = plan.watermark;
    await Promise.all([
      // The watermark only rises (a re-applied or older plan leaves a higher one alone).
      wm &&
        unlessConditionFailed(
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: deriveWatermarkKey(wm.process),
              UpdateExpression: 'SET wm = :n, #ttl = :ttl',
              ConditionExpression: 'attribute_not_exists(wm) OR wm < :n',
              ExpressionAttributeNames: { '#ttl': 'ttl' },
              ExpressionAttributeValues: { ':n': wm.n, ':ttl': wm.ttl },
            }),
          ),
        ),
      ...plan.records.map((r) =>
        unlessConditionFailed(
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: r.key,
              UpdateExpression: 'SET dv = :v',
              ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(dv) OR dv < :v)',
              ExpressionAttributeValues: { ':v': r.v },
            }),
          ),
        ),
      ),
      ...plan.markers.map((key) => this.doc.send(new DeleteCommand({ TableName: this.table, Key: key }))),
    ]);
    // A failed condition: another process closed it.
    await unlessConditionFailed(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: deriveCursorKey,
          UpdateExpression: 'SET seq = :seq REMOVE #plan, planSeq',
          ConditionExpression: 'planSeq = :seq',
          ExpressionAttributeNames: { '#plan': 'plan' },
          ExpressionAttributeValues: { ':seq': plan.seq },
        }),
      ),
    );
    if (changes.length > 0 && this.opts.onSpend) {
      await Promise.resolve(this.opts.onSpend(changes)).catch((err: unknown) => this.opts.onError?.(err, 'derived-spend'));
    }
  }
}

function softBudget(b: SoftBudgetCharge): EffectiveBudget {
  const { periodKey: _periodKey, ...budget } = b;
  return budget;
}
