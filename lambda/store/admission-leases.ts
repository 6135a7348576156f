/**
 * Admission from leases: each process (a Lambda container, the local server) holds a lease of budget
 * headroom on each hard budget's counter and of request/token slots on each rate-limit window, taken with
 * ONE conditional write per counter, and admits requests against them in memory. The store round trip
 * leaves the request path: leases are topped up, flushed (actual spend moved from the lease to `spent`) and
 * given back in the background, in batches.
 *
 * Why the caps stay exact: a lease is headroom taken out of the shared counter by the same conditional
 * update a single request's reservation uses (`committed <= limit - amount`; `requests <= rpm - k`), so the
 * leases of all processes together never exceed the cap, and a process admits a request only while its
 * own lease still covers the request's worst case (budgets) or a whole slot and its tokens (rate limits).
 *
 * Budget lease on the counter item (the same item per-request reservations use):
 *   `alease_<id>` = micro-USD the lease still holds (part of `reserved` and `committed`)
 *   `alexp_<id>`  = when the lease expires unless its holder writes again (every flush extends it)
 * open     SET lease=:x ADD committed :x, reserved :x            if committed <= cap - x and no such lease
 * adjust   SET lease=:new ADD spent :u, reserved …, committed …   if lease = :held (flush u, top up x)
 * close    REMOVE lease ADD spent :u, committed :u-held, reserved -held   if lease = :held
 * reclaim  (sweeper, holder gone) REMOVE lease ADD spent :held, reserved -:held   if lease = :held
 * Only the holder writes its lease attribute (and the sweeper removes it once expired), so `lease = :held`
 * makes every write exactly-once: a retried write that landed finds the new value and is recognised.
 * A reclaimed lease is charged in full: its holder may have died with requests in flight whose cost is
 * unknown, so unused headroom is counted as spent rather than any spend released for free.
 *
 * Rate-limit lease on the minute window item: `ADD requests :k, tokens :t` if `requests <= rpm - k AND
 * tokens <= tpm - t`. Bounds: admitted requests per key/team and minute never exceed RPM (all slots ever
 * taken are within RPM); admitted tokens (input estimate + n × max output) never exceed TPM; actual usage
 * above the estimate is added to the window afterwards, as with per-request admission. Unused slots are
 * given back when the process goes idle; a dead process's unused slots expire with their minute
 * (under-admission, never over-admission).
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import { shardCaps, type EffectiveBudget } from '../core/budgets';
import { minuteWindow, type RateLimits, type RateLimitScope, type RateState, type RateWindow } from '../core/limits';
import type { SpendChange } from './budget-ledger';
import { conditionFailedItem, isConditionalCheckFailed, itemId, num, type Item } from './dynamo';
import { admissionLeaseIndexKey, admissionLeaseIndexPk, budgetCounterKey, rateWindowKey, ADMISSION_LEASE_INDEX_SHARDS, type LedgerKey } from './item-keys';

export interface AdmissionLeaseOptions {
  doc: DocumentClient;
  table: string;
  globalShards: number;
  now?: () => number;
  random?: () => number;
  /** A budget lease expires this long after its holder last wrote it (then the sweeper reclaims it). */
  leaseTtlMs: number;
  /** A lease covers about this much of the process's recent rate ahead. */
  horizonMs?: number;
  /** One lease takes at most this share of the headroom left (so other processes find some). */
  maxShare?: number;
  /** Settled spend is flushed to the counters this often (batched writes). */
  flushIntervalMs?: number;
  /** Leases unused this long are given back. */
  idleMs?: number;
  /**
   * For a process that serves one request at a time (a Lambda container), which may be frozen with its
   * leases between any two requests: each budget lease is kept at this many of the largest worst case among
   * its latest 8 requests, neither ahead of the recent rate nor topped up in the background. Every flush tops the
   * lease up, or gives back the excess, to exactly that, in the one write it makes anyway, so a frozen
   * container holds no more than this of a hard budget's headroom and the next request is still admitted
   * from memory. Unset: leases follow the recent rate (horizonMs), for a server with requests in parallel.
   */
  keepWorstCases?: number;
  /** Spend changes from flushes (threshold alerts, utilisation). */
  onSpend?: (changes: SpendChange[]) => void | Promise<void>;
  onError?: (err: unknown, context: string) => void;
}

export interface LeaseDemand {
  /** Hard budgets and the period each is charged in. */
  budgets: ReadonlyArray<{ budget: EffectiveBudget; period: string }>;
  /** Worst-case cost reserved on each hard budget. */
  costMicros: number;
  limits: ReadonlyArray<{ scope: RateLimitScope; id: string; limits: RateLimits }>;
  /** Tokens counted against TPM at admission. */
  tokens: number;
  now: number;
}

export type LeaseAdmission =
  | { ok: true; states: RateState[]; settle(actualMicros: number, actualTokens: number): void }
  | { ok: false; kind: 'budget'; budget: EffectiveBudget; period: string; committedMicros: number; costMicros: number }
  | { ok: false; kind: 'rate'; index: number; state: RateState; exceeded: 'requests' | 'tokens' };

/**
 * keepWorstCases sizes a lease from the largest worst case among this many of its latest requests: one
 * unusually large request (a huge max_tokens) is parked for the next few only, not for the container's life.
 */
const KEEP_RECENT = 8;
/**
 * flushIntervalMs: settled spend reaches the counters (reports, alerts, other processes' view of what is
 * committed) up to 1 s late; the lease holds it meanwhile, so caps are as exact as with any interval. One
 * flush per second instead of five: part of the 0.93x CPU per request noted at DEFAULT_DERIVE_INTERVAL_MS.
 */
const DEFAULTS = { horizonMs: 2_000, maxShare: 0.25, flushIntervalMs: 1_000, idleMs: 5_000 };
/** Rounds of top-ups one admission may wait for before it is refused. */
const MAX_TOP_UPS = 6;

/** Per-millisecond rate, smoothed over ~the horizon. */
class Rate {
  private perMs = 0;
  private last = 0;
  constructor(private readonly horizonMs: number) {}
  add(amount: number, now: number): void {
    const dt = Math.max(0, now - this.last);
    const decay = Math.exp(-dt / this.horizonMs);
    this.perMs = this.perMs * decay + amount / this.horizonMs;
    this.last = now;
  }
  /** Expected amount over the horizon. */
  ahead(): number {
    return this.perMs * this.horizonMs;
  }
}

class BudgetLease {
  readonly id: string;
  held = 0;
  inflight = 0;
  unflushed = 0;
  unflushedRequests = 0;
  lastUsed = 0;
  expiresAt = 0;
  gone = false;
  /** Worst cases of requests waiting for a top-up. */
  queued = 0;
  /** The worst cases of the last KEEP_RECENT requests this lease admitted (keepWorstCases sizes the lease from their largest). */
  readonly recentDemands: number[] = [];
  get largestDemand(): number {
    let max = 0;
    for (const d of this.recentDemands) if (d > max) max = d;
    return max;
  }
  /** The write under way was started off the request path (flush, proactive top-up). */
  offPath = false;
  writing: Promise<void> | undefined;
  readonly rate: Rate;
  constructor(
    readonly budget: EffectiveBudget,
    readonly period: string,
    readonly key: LedgerKey,
    readonly shard: number | undefined,
    readonly capMicros: number,
    id: string,
    horizonMs: number,
  ) {
    this.id = id;
    this.rate = new Rate(horizonMs);
  }
  /**
   * A write whose outcome is unknown (it failed after it may have landed: a timeout, a lost answer): what
   * the lease would hold had it landed. Until it is resolved (resolveDoubt), the lease admits only what both
   * outcomes allow, so a give-back that did land is never spent again.
   */
  inDoubt: { newHeld: number; expiresAt: number; u: number; n: number } | undefined;
  get available(): number {
    if (this.gone) return 0;
    const asKnown = this.held - this.inflight - this.unflushed;
    const d = this.inDoubt;
    return d ? Math.min(asKnown, d.newHeld - this.inflight - (this.unflushed - d.u)) : asKnown;
  }
  get attr(): string {
    return `alease_${this.id}`;
  }
  get expAttr(): string {
    return `alexp_${this.id}`;
  }
}

class WindowLease {
  slots = 0;
  tokens = 0;
  /** The window item's counts after our last write (for headers). */
  itemRequests = 0;
  itemTokens = 0;
  lastUsed = 0;
  writing: Promise<void> | undefined;
  /** Tokens used beyond the estimate and not covered by the lease: added to the window at the next flush. */
  extraTokens = 0;
  /** Requests waiting for a top-up. */
  queued = 0;
  /** The write under way was started off the request path (proactive top-up). */
  offPath = false;
  /** The window item's counts are known (a write of ours returned them). */
  known = false;
  constructor(
    readonly scope: RateLimitScope,
    readonly id: string,
    readonly limits: RateLimits,
    readonly window: RateWindow,
    readonly key: LedgerKey,
    readonly rate: Rate,
    readonly tokenRate: Rate,
  ) {}
  storeSlotsLeft(): number {
    return this.limits.rpm === undefined ? Infinity : Math.max(0, this.limits.rpm - this.itemRequests);
  }
  storeTokensLeft(): number {
    return this.limits.tpm === undefined ? Infinity : Math.max(0, this.limits.tpm - this.itemTokens);
  }
  state(): RateState {
    return { scope: this.scope, limits: this.limits, requests: this.itemRequests - this.slots, tokens: this.itemTokens - this.tokens, window: this.window };
  }
}

/**
 * A window lease in use takes the next minute's lease this long before its minute ends (in the background,
 * sized by the recent rate like any top-up), so the first requests of the new minute do not wait for the
 * store. Conditional on the next minute's item like every window write: RPM/TPM stay exact.
 */
export const NEXT_WINDOW_LEAD_MS = 2_000;

/** Window items outlive their minute by an hour (TTL), as the per-request limiter's. */
const WINDOW_TTL_SECONDS = 3_600;

export class AdmissionLeases {
  private readonly budgets = new Map<string, BudgetLease>();
  private readonly windows = new Map<string, WindowLease>();
  /** The next minute's leases, taken ahead (NEXT_WINDOW_LEAD_MS), by windowId. */
  private readonly nextWindows = new Map<string, WindowLease>();
  /**
   * TPM corrections whose write failed, by window item: retried at each flush until they land or their
   * item's TTL ends (a minute's item outlives it by WINDOW_TTL_SECONDS for late corrections).
   */
  private readonly failedCorrections = new Map<string, { key: LedgerKey; endMs: number; tokens: number }>();
  private readonly rates = new Map<string, { requests: Rate; tokens: Rate }>();
  private readonly o: Required<Omit<AdmissionLeaseOptions, 'onSpend' | 'onError' | 'random' | 'now'>> & Pick<AdmissionLeaseOptions, 'onSpend'>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly onError: (err: unknown, context: string) => void;
  private flushTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private seq = 0;
  private offPathCalls = 0;
  private offPathReads = 0;
  private readonly processId: string;

  constructor(opts: AdmissionLeaseOptions) {
    this.o = { ...DEFAULTS, ...opts, onSpend: opts.onSpend } as AdmissionLeases['o'];
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.onError = opts.onError ?? (() => undefined);
    this.processId = `${this.now().toString(36)}${Math.floor(this.random() * 0xffffffff).toString(36)}`;
  }

  /**
   * Admit from the leases in memory; only when a lease is missing or short does this wait for one write
   * per such counter (shared by the requests waiting on it). Refuses exactly as the store would: a budget
   * whose headroom (taken or obtainable) is below the worst case, a window without a slot or tokens.
   */
  async admit(d: LeaseDemand): Promise<LeaseAdmission> {
    if (this.closed) throw new Error('admission leases are closed');
    for (let attempt = 0; ; attempt++) {
      const budgetLeases = d.budgets.map((b) => this.budgetLease(b.budget, b.period));
      const windowLeases = d.limits.map((l) => this.windowLease(l.scope, l.id, l.limits, d.now));
      const shortBudgets = budgetLeases.filter((l) => l.available < d.costMicros);
      const shortWindows = windowLeases.filter((w) => this.windowShort(w, d.tokens));
      if (shortBudgets.length === 0 && shortWindows.length === 0) return this.take(budgetLeases, windowLeases, d);
      // What the store has left beyond our own leases, as of our last write: refuse once it cannot cover.
      const exhausted = attempt > 0 || this.lastCommitted.size > 0 ? shortBudgets.find((l) => this.lastCommitted.has(l) && l.available + this.storeLeft(l) < d.costMicros) : undefined;
      if (exhausted || attempt >= MAX_TOP_UPS) {
        const l = exhausted ?? shortBudgets[0];
        if (l) return { ok: false, kind: 'budget', budget: l.budget, period: l.period, committedMicros: this.lastCommitted.get(l) ?? 0, costMicros: d.costMicros };
      }
      const full = shortWindows.find((w) => w.known && this.windowShort(w, d.tokens, true));
      if (full || attempt >= MAX_TOP_UPS) {
        const w = full ?? shortWindows[0];
        const state = { ...w.state(), requests: w.itemRequests, tokens: w.itemTokens };
        return { ok: false, kind: 'rate', index: windowLeases.indexOf(w), state, exceeded: w.slots < 1 && w.storeSlotsLeft() < 1 ? 'requests' : 'tokens' };
      }
      for (const l of shortBudgets) l.queued += d.costMicros;
      for (const w of shortWindows) w.queued += 1;
      try {
        await Promise.all([...shortBudgets.map((l) => this.topUpBudget(l, false)), ...shortWindows.map((w) => this.topUpWindow(w, d.tokens, false))]);
      } finally {
        for (const l of shortBudgets) l.queued -= d.costMicros;
        for (const w of shortWindows) w.queued -= 1;
      }
    }
  }

  /** A window lease that cannot admit one more request of `tokens` (`withStore`: even taking all the store has left). */
  private windowShort(w: WindowLease, tokens: number, withStore = false): boolean {
    const slots = w.slots + (withStore ? w.storeSlotsLeft() : 0);
    const toks = w.tokens + (withStore ? w.storeTokensLeft() : 0);
    return slots < 1 || (w.limits.tpm !== undefined && toks < tokens);
  }

  private storeLeft(l: BudgetLease): number {
    return Math.max(0, l.capMicros - (this.lastCommitted.get(l) ?? 0));
  }

  private take(budgetLeases: BudgetLease[], windowLeases: WindowLease[], d: LeaseDemand): LeaseAdmission {
    const now = this.now();
    for (const l of budgetLeases) {
      l.inflight += d.costMicros;
      l.lastUsed = now;
      l.rate.add(d.costMicros, now);
      l.recentDemands.push(d.costMicros);
      if (l.recentDemands.length > KEEP_RECENT) l.recentDemands.shift();
    }
    for (const w of windowLeases) {
      w.slots -= 1;
      if (w.limits.tpm !== undefined) w.tokens -= d.tokens;
      w.lastUsed = now;
      w.rate.add(1, now);
      w.tokenRate.add(d.tokens, now);
    }
    // Top up in the background before a lease runs out, so the next requests do not wait for the store.
    // (Not with keepWorstCases: the flush after the request sets the lease to what the next one needs.)
    if (this.o.keepWorstCases === undefined) {
      for (const l of budgetLeases) {
        if (!l.writing && l.available < Math.max(d.costMicros, l.rate.ahead() / 2)) void this.topUpBudget(l, true);
      }
    }
    for (const w of windowLeases) {
      const low = w.slots < Math.max(1, w.rate.ahead() / 2) || (w.limits.tpm !== undefined && w.tokens < Math.max(d.tokens, w.tokenRate.ahead() / 2));
      if (!w.writing && low) void this.topUpWindow(w, d.tokens, true);
      if (now >= w.window.endMs - NEXT_WINDOW_LEAD_MS) this.takeNextWindow(w, d.tokens);
    }
    const states = windowLeases.map((w) => w.state());
    let settled = false;
    return {
      ok: true,
      states,
      settle: (actualMicros, actualTokens) => {
        if (settled) return;
        settled = true;
        for (const l of budgetLeases) {
          l.inflight -= d.costMicros;
          l.unflushed += actualMicros;
          l.unflushedRequests += 1;
        }
        for (const w of windowLeases) {
          if (w.limits.tpm === undefined) continue;
          const delta = actualTokens - d.tokens;
          const current = this.windows.get(this.windowId(w.scope, w.id)) === w;
          if (delta <= 0) {
            if (current) w.tokens -= delta; // unused estimate back to the lease
          } else if (current && w.tokens >= delta) {
            w.tokens -= delta;
          } else {
            w.extraTokens += delta;
          }
        }
        this.scheduleFlush();
      },
    };
  }

  /** The committed amount a budget counter last reported (for refusals). */
  private readonly lastCommitted = new Map<BudgetLease, number>();

  private budgetLease(budget: EffectiveBudget, period: string): BudgetLease {
    const sharded = budget.scope === 'global' && this.o.globalShards > 1;
    const id = `${budget.scope}#${budget.id}#${period}`;
    const existing = this.budgets.get(id);
    if (existing && !existing.gone) return existing;
    const shard = sharded ? Math.floor(this.random() * this.o.globalShards) : undefined;
    const cap = shard === undefined ? budget.limitMicros : (shardCaps(budget.limitMicros, this.o.globalShards)[shard] ?? 0);
    const lease = new BudgetLease(budget, period, budgetCounterKey(budget.scope, budget.id, period, shard), shard, cap, `${this.processId}${(this.seq++).toString(36)}`, this.o.horizonMs);
    this.budgets.set(id, lease);
    return lease;
  }

  private windowId(scope: RateLimitScope, id: string): string {
    return `${scope}#${id}`;
  }

  private windowLease(scope: RateLimitScope, id: string, limits: RateLimits, nowMs: number): WindowLease {
    const wid = this.windowId(scope, id);
    const window = minuteWindow(nowMs);
    const existing = this.windows.get(wid);
    if (existing && existing.window.label === window.label) return existing;
    if (existing) this.flushWindowExtra(existing);
    const ahead = this.nextWindows.get(wid);
    if (ahead) {
      this.nextWindows.delete(wid);
      // Taken for the minute that has now begun (a lease for a minute already over holds nothing usable),
      // under the limits that apply now (changed limits: what it took goes back, a new lease is taken).
      if (ahead.window.label === window.label && ahead.limits.rpm === limits.rpm && ahead.limits.tpm === limits.tpm) {
        this.windows.set(wid, ahead);
        return ahead;
      }
      if (ahead.window.label === window.label) void this.giveBackTakenAhead(ahead);
    }
    const rates = this.rates.get(wid) ?? { requests: new Rate(this.o.horizonMs), tokens: new Rate(this.o.horizonMs) };
    this.rates.set(wid, rates);
    const lease = new WindowLease(scope, id, limits, window, rateWindowKey(scope, id, window), rates.requests, rates.tokens);
    this.windows.set(wid, lease);
    return lease;
  }

  /** The next minute's lease for `w`'s limit, taken in the background once (NEXT_WINDOW_LEAD_MS). */
  private takeNextWindow(w: WindowLease, tokens: number): void {
    const wid = this.windowId(w.scope, w.id);
    if (this.nextWindows.has(wid) || this.windows.get(wid) !== w) return;
    const window = minuteWindow(w.window.endMs);
    const next = new WindowLease(w.scope, w.id, w.limits, window, rateWindowKey(w.scope, w.id, window), w.rate, w.tokenRate);
    this.nextWindows.set(wid, next);
    void this.topUpWindow(next, tokens, true);
  }

  /** One write at a time per lease; callers waiting for the same top-up share it. */
  private topUpBudget(l: BudgetLease, offPath: boolean): Promise<void> {
    if (!l.writing) l.offPath = offPath;
    l.writing ??= this.writeBudget(l, true)
      .catch((err: unknown) => this.onError(err, 'lease-top-up'))
      .finally(() => (l.writing = undefined));
    return l.writing;
  }

  private topUpWindow(w: WindowLease, tokens: number, offPath: boolean): Promise<void> {
    if (!w.writing) w.offPath = offPath;
    w.writing ??= this.writeWindow(w, tokens)
      .catch((err: unknown) => this.onError(err, 'rate-lease'))
      .finally(() => (w.writing = undefined));
    return w.writing;
  }

  /**
   * Size of a top-up: what the waiting requests lack, plus the recent rate over the horizon bounded by a
   * share of what the store has left (so other processes find headroom too).
   */
  private budgetTopUp(l: BudgetLease): number {
    const lacking = Math.max(0, l.queued - Math.max(0, l.available));
    // One at a time: what the waiting request lacks, nothing ahead (the flush after it sizes the lease).
    if (this.o.keepWorstCases !== undefined) return lacking;
    const ahead = Math.min(Math.ceil(l.rate.ahead()), Math.floor(this.storeLeft(l) * this.o.maxShare));
    return lacking + Math.max(0, ahead);
  }

  /**
   * keepWorstCases: the change a flush makes to a lease's headroom so that, with its settled spend moved to
   * the counter, it holds exactly keepWorstCases × its latest requests' largest worst case beyond what is in flight (a
   * top-up when positive, a give-back when negative); 0 without keepWorstCases.
   */
  private keepAdjustment(l: BudgetLease): number {
    if (this.o.keepWorstCases === undefined || l.largestDemand === 0) return 0;
    const free = l.held - Math.min(l.unflushed, l.held) - l.inflight;
    const x = this.o.keepWorstCases * l.largestDemand - free;
    // A top-up no bigger than what the store had left at our last write: near the cap, every flush would
    // otherwise try (and pay for) a conditional write the cap refuses.
    return x > 0 ? Math.min(x, this.storeLeft(l)) : x;
  }

  /**
   * Flush settled spend and top up, in one conditional write on the counter (or open the lease). On a cap
   * refusal it retries once with exactly what is left (the condition decides; nothing over the cap lands).
   */
  private async writeBudget(l: BudgetLease, topUp: boolean, ttlMs = this.o.leaseTtlMs, amount?: number): Promise<void> {
    let x = amount ?? (topUp ? this.budgetTopUp(l) : 0);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.budgetWrite(l, x, ttlMs);
      if (r === 'ok' || r === 'gone') return;
      // Refused by the cap: take at most what is left and what the waiting requests lack; or just flush.
      const left = this.storeLeft(l) - Math.max(0, l.unflushed - l.held);
      x = Math.max(0, Math.min(left, l.queued - Math.max(0, l.available)));
      if (x === 0 && l.unflushed === 0) return;
    }
  }

  /** 'ok', 'cap' (the top-up did not fit; nothing written) or 'gone' (the lease was reclaimed). */
  private async budgetWrite(l: BudgetLease, x: number, ttlMs: number): Promise<'ok' | 'cap' | 'gone'> {
    if (l.inDoubt && (await this.resolveDoubt(l)) === 'gone') return 'gone';
    const now = this.now();
    const u = l.unflushed;
    const n = l.unflushedRequests;
    const held = l.held;
    const consumed = Math.min(u, held);
    const over = u - consumed;
    const newHeld = held - consumed + x;
    const expiresAt = now + ttlMs;
    const opening = held === 0 && !l.expiresAt;
    if (opening && x === 0) return 'ok';
    const names = { '#lease': l.attr, '#exp': l.expAttr };
    const values: Item = { ':new': newHeld, ':exp': expiresAt, ':cap': l.capMicros, ':spent': u, ':committed': over + x, ':reserved': x - consumed, ':n': n };
    const conditions = [opening ? 'attribute_not_exists(#lease)' : '#lease = :held'];
    if (!opening) values[':held'] = held;
    if (x > 0) {
      // A counter that does not exist yet passes `attribute_not_exists(committed)` whatever :headroom is,
      // so a top-up larger than the whole cap must be refused here, before any write.
      if (l.capMicros - x - over < 0) return 'cap';
      conditions.push('(attribute_not_exists(committed) OR committed <= :headroom)');
      values[':headroom'] = l.capMicros - x - over;
    }
    if (opening) await this.indexLease(l, expiresAt);
    this.counted(l.offPath);
    try {
      const out = await this.o.doc.send(
        new UpdateCommand({
          TableName: this.o.table,
          Key: l.key,
          UpdateExpression: 'SET #lease = :new, #exp = :exp, limitMicros = :cap ADD spent :spent, committed :committed, reserved :reserved, requests :n',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      this.applied(l, u, n, newHeld, expiresAt, num(out.Attributes?.committed), num(out.Attributes?.spent));
      return 'ok';
    } catch (err) {
      if (!isConditionalCheckFailed(err)) {
        // It may have landed (the answer lost): the next write of this lease reads which first.
        l.inDoubt = { newHeld, expiresAt, u, n };
        throw err;
      }
      const old = conditionFailedItem(err) ?? (await this.read(l.key, l.offPath));
      const current = old?.[l.attr];
      if (current === newHeld && old?.[l.expAttr] === expiresAt) {
        // A retry of this very write, whose first attempt landed.
        this.applied(l, u, n, newHeld, expiresAt, num(old?.committed), num(old?.spent));
        return 'ok';
      }
      if (!opening && current === undefined) {
        // Reclaimed by the sweeper (this process was presumed dead): it charged the whole lease.
        l.gone = true;
        this.onError(new Error(`admission lease ${l.id} on ${l.key.pk} was reclaimed`), 'lease-reclaimed');
        return 'gone';
      }
      this.lastCommitted.set(l, num(old?.committed));
      return 'cap';
    }
  }

  /**
   * Settles a write in doubt by reading the counter: the lease attribute at the value that write set (and its
   * expiry) means it landed, and it is applied as if its answer had come; the lease's own value, that it did
   * not; no attribute, that the sweeper reclaimed the lease.
   */
  private async resolveDoubt(l: BudgetLease): Promise<'ok' | 'gone'> {
    const d = l.inDoubt;
    if (!d) return 'ok';
    const item = await this.read(l.key, l.offPath);
    l.inDoubt = undefined;
    const current = item?.[l.attr];
    if (current === d.newHeld && item?.[l.expAttr] === d.expiresAt) {
      this.applied(l, d.u, d.n, d.newHeld, d.expiresAt, num(item?.committed), num(item?.spent));
      return 'ok';
    }
    if (current === undefined && l.expiresAt) {
      l.gone = true;
      this.onError(new Error(`admission lease ${l.id} on ${l.key.pk} was reclaimed`), 'lease-reclaimed');
      return 'gone';
    }
    return 'ok';
  }

  private applied(l: BudgetLease, u: number, n: number, newHeld: number, expiresAt: number, committed: number, spent: number): void {
    l.unflushed -= u;
    l.unflushedRequests -= n;
    l.held = newHeld;
    l.expiresAt = expiresAt;
    this.lastCommitted.set(l, committed);
    if (u > 0 && this.o.onSpend) {
      const change: SpendChange = { budget: l.budget, period: l.period, shard: l.shard, beforeMicros: spent - u, afterMicros: spent };
      void Promise.resolve(this.o.onSpend([change])).catch((err: unknown) => this.onError(err, 'lease-spend'));
    }
  }

  /** The index entry the sweeper finds the lease by (once per lease, before the lease itself). */
  private async indexLease(l: BudgetLease, expiresAt: number): Promise<void> {
    const shard = Math.floor(this.random() * ADMISSION_LEASE_INDEX_SHARDS);
    this.counted(l.offPath);
    await this.o.doc.send(
      new PutCommand({
        TableName: this.o.table,
        Item: { ...admissionLeaseIndexKey(shard, l.id), counter: l.key, leaseId: l.id, openedAt: this.now(), ttl: Math.floor(expiresAt / 1000) + 30 * 86_400 },
      }),
    );
  }

  /**
   * Take slots (and tokens) for the waiting requests plus the recent rate over the horizon, bounded by a
   * share of what the window has left; on a refusal, take exactly what the waiting requests need if the
   * window still has it.
   */
  private async writeWindow(w: WindowLease, tokens: number): Promise<void> {
    const { rpm, tpm } = w.limits;
    const needSlots = Math.max(0, w.queued - Math.max(0, w.slots));
    const needTokens = tpm === undefined ? 0 : Math.max(0, w.queued * tokens - Math.max(0, w.tokens));
    let k = needSlots + Math.min(Math.ceil(w.rate.ahead()), Math.floor(w.storeSlotsLeft() * this.o.maxShare));
    let t = tpm === undefined ? 0 : needTokens + Math.min(Math.ceil(w.tokenRate.ahead()), Math.floor(w.storeTokensLeft() * this.o.maxShare));
    for (let attempt = 0; attempt < 2 && (k > 0 || t > 0); attempt++) {
      const values: Item = { ':k': k, ':t': t, ':ttl': Math.floor(w.window.endMs / 1000) + WINDOW_TTL_SECONDS };
      const conditions: string[] = [];
      if (rpm !== undefined && k > 0) {
        conditions.push('(attribute_not_exists(requests) OR requests <= :rpmHeadroom)');
        values[':rpmHeadroom'] = rpm - k;
      }
      if (tpm !== undefined && t > 0) {
        conditions.push('(attribute_not_exists(tokens) OR tokens <= :tpmHeadroom)');
        values[':tpmHeadroom'] = tpm - t;
      }
      this.counted(w.offPath);
      try {
        const out = await this.o.doc.send(
          new UpdateCommand({
            TableName: this.o.table,
            Key: w.key,
            UpdateExpression: 'SET #ttl = if_not_exists(#ttl, :ttl) ADD requests :k, tokens :t',
            ConditionExpression: conditions.length ? conditions.join(' AND ') : undefined,
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: values,
            ReturnValues: 'UPDATED_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        w.slots += k;
        w.tokens += t;
        w.itemRequests = num(out.Attributes?.requests);
        w.itemTokens = num(out.Attributes?.tokens);
        w.known = true;
        return;
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        const old = conditionFailedItem(err) ?? (await this.read(w.key, w.offPath));
        w.itemRequests = num(old?.requests);
        w.itemTokens = num(old?.tokens);
        w.known = true;
        k = Math.min(needSlots, w.storeSlotsLeft());
        t = tpm === undefined ? 0 : Math.min(needTokens, w.storeTokensLeft());
        if ((rpm !== undefined && needSlots > 0 && k < 1) || (tpm !== undefined && needTokens > 0 && t + Math.max(0, w.tokens) < tokens)) return;
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.o.flushIntervalMs);
    this.flushTimer.unref();
    if (!this.idleTimer) {
      this.idleTimer = setInterval(() => void this.giveBackIdle(), this.o.idleMs);
      this.idleTimer.unref();
    }
  }

  /**
   * Move settled spend to the counters now (batched: one write per counter), and refresh expiries; resolves
   * when no lease write is in flight. `holdMs`: the leases written now expire that far ahead (at least the
   * usual lease time), and any held lease expiring sooner than half of it is written too (a Lambda container
   * about to be frozen: see FROZEN_HOLD_MS in lambda/handlers/gateway-handler.ts).
   */
  flush(opts: { holdMs?: number } = {}): Promise<void> {
    const ttlMs = Math.max(this.o.leaseTtlMs, opts.holdMs ?? 0);
    // A flush under way writes the usual expiry: a longer hold waits for it, then writes its own.
    if (this.flushing && ttlMs > this.o.leaseTtlMs) {
      const again = () => this.flush(opts);
      return this.flushing.then(again, again);
    }
    this.flushing ??= (async () => {
      const now = this.now();
      const writes: Promise<void>[] = [];
      // Writes already under way (top-ups) finish first: after a flush, no lease write is in flight.
      await Promise.all([...this.budgets.values(), ...this.windows.values()].map((x) => x.writing));
      for (const l of this.budgets.values()) {
        if (l.gone || l.writing) continue;
        const stale = l.held > 0 && l.expiresAt - now < ttlMs / 2;
        const adjust = this.keepAdjustment(l);
        if (l.unflushed > 0 || stale || adjust !== 0) {
          l.offPath = true;
          l.writing = this.writeBudget(l, false, ttlMs, adjust)
            .catch((err: unknown) => this.onError(err, 'lease-flush'))
            .finally(() => (l.writing = undefined));
          writes.push(l.writing);
        }
      }
      for (const w of this.windows.values()) writes.push(this.flushWindowExtra(w));
      writes.push(...this.retryCorrections());
      await Promise.all(writes);
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private flushWindowExtra(w: WindowLease): Promise<void> {
    const extra = w.extraTokens;
    if (extra <= 0) return Promise.resolve();
    w.extraTokens = 0;
    return this.writeCorrection(w.key, w.window.endMs, extra);
  }

  /**
   * Adds tokens used beyond the estimate to a window item. A failed write is kept and retried at the next
   * flush (scheduled now), so the item still counts them: the TPM bound holds through a store fault. A
   * retry after a write whose answer was lost (a timeout after it landed) counts them twice: the limit is
   * then stricter for the rest of that minute, never looser.
   */
  private writeCorrection(key: LedgerKey, endMs: number, tokens: number): Promise<void> {
    this.counted(true);
    return this.o.doc
      .send(
        new UpdateCommand({
          TableName: this.o.table,
          Key: key,
          UpdateExpression: 'SET #ttl = if_not_exists(#ttl, :ttl) ADD tokens :t',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':t': tokens, ':ttl': Math.floor(endMs / 1000) + WINDOW_TTL_SECONDS },
        }),
      )
      .then(() => undefined)
      .catch((err: unknown) => {
        this.onError(err, 'rate-correction');
        if (this.now() >= endMs + WINDOW_TTL_SECONDS * 1000) return; // the item is gone: nothing left to correct
        const id = itemId(key);
        const pending = this.failedCorrections.get(id);
        if (pending) pending.tokens += tokens;
        else this.failedCorrections.set(id, { key, endMs, tokens });
        this.scheduleFlush();
      });
  }

  /** The corrections that failed before, sent again (each failure is kept for the next flush). */
  private retryCorrections(): Promise<void>[] {
    const retries = [...this.failedCorrections.values()].map((c) => this.writeCorrection(c.key, c.endMs, c.tokens));
    this.failedCorrections.clear();
    return retries;
  }

  /**
   * Give back leases no request used for idleMs (all of them when `all`). Resolves to the number of budget
   * leases not given back: whose give-back failed (forgotten here, left to the sweeper, which charges what
   * they held) and, with `all`, those still in use by a request in flight (kept).
   */
  async giveBackIdle(all = false): Promise<number> {
    const now = this.now();
    await this.flush();
    const writes: Promise<void>[] = [];
    let failed = 0;
    for (const [id, l] of this.budgets) {
      if (all && !l.gone && (l.inflight > 0 || l.writing)) failed++;
      if (l.gone || l.inflight > 0 || l.writing || (!all && now - l.lastUsed < this.o.idleMs)) continue;
      this.budgets.delete(id);
      if (l.held > 0 || l.unflushed > 0) {
        writes.push(
          this.closeBudget(l).catch((err: unknown) => {
            failed++;
            this.onError(err, 'lease-give-back');
          }),
        );
      }
    }
    for (const [id, w] of this.windows) {
      if (!all && now - w.lastUsed < this.o.idleMs) continue;
      this.windows.delete(id);
      const current = minuteWindow(now).label === w.window.label;
      if (current && (w.slots > 0 || w.tokens > 0)) writes.push(this.giveBackWindow(w));
    }
    // Next minutes' leases go back with their limit's lease (or all of them): what they took is in a window
    // that has not ended yet, so giving it back lets other processes use it.
    for (const [id, next] of this.nextWindows) {
      if (!all && this.windows.has(id)) continue;
      this.nextWindows.delete(id);
      if (now >= next.window.endMs) continue;
      writes.push(this.giveBackTakenAhead(next));
    }
    await Promise.all(writes);
    return failed;
  }

  private async closeBudget(l: BudgetLease): Promise<void> {
    if (l.inDoubt && (await this.resolveDoubt(l)) === 'gone') return;
    const u = l.unflushed;
    this.counted(true);
    try {
      const out = await this.o.doc.send(
        new UpdateCommand({
          TableName: this.o.table,
          Key: l.key,
          UpdateExpression: 'REMOVE #lease, #exp ADD spent :u, committed :committed, reserved :reserved, requests :n',
          ConditionExpression: '#lease = :held',
          ExpressionAttributeNames: { '#lease': l.attr, '#exp': l.expAttr },
          ExpressionAttributeValues: { ':u': u, ':committed': u - l.held, ':reserved': -l.held, ':held': l.held, ':n': l.unflushedRequests },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      if (u > 0 && this.o.onSpend) await this.o.onSpend([{ budget: l.budget, period: l.period, shard: l.shard, beforeMicros: num(out.Attributes?.spent) - u, afterMicros: num(out.Attributes?.spent) }]);
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err; // closed already (a retry) or reclaimed
    }
    l.gone = true;
  }

  /** A next minute's lease no longer wanted: its top-up still in flight lands first, then what it took goes back. */
  private async giveBackTakenAhead(w: WindowLease): Promise<void> {
    await w.writing;
    if (w.slots > 0 || w.tokens > 0) await this.giveBackWindow(w);
  }

  private async giveBackWindow(w: WindowLease): Promise<void> {
    const k = w.slots;
    const t = w.limits.tpm === undefined ? 0 : w.tokens;
    w.slots = 0;
    w.tokens = 0;
    this.counted(true);
    await this.o.doc
      .send(new UpdateCommand({ TableName: this.o.table, Key: w.key, UpdateExpression: 'ADD requests :k, tokens :t', ExpressionAttributeValues: { ':k': -k, ':t': -t } }))
      .catch((err: unknown) => this.onError(err, 'rate-lease-give-back'));
  }

  /** Shutdown: flush and give every lease back; later admissions fail. */
  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.flushTimer = this.idleTimer = undefined;
    await this.giveBackIdle(true);
    this.closed = true;
  }

  /** Store calls made off the request path so far (batched flushes, proactive top-ups, give-backs), for the benchmark. */
  get backgroundCalls(): number {
    return this.offPathCalls;
  }

  /** Of those, the reads (a counter read after a failed condition). */
  get backgroundReads(): number {
    return this.offPathReads;
  }

  private counted(offPath: boolean): void {
    if (offPath) this.offPathCalls++;
  }

  private async read(key: LedgerKey, offPath: boolean): Promise<Item | undefined> {
    this.counted(offPath);
    if (offPath) this.offPathReads++;
    return (await this.o.doc.send(new GetCommand({ TableName: this.o.table, Key: key, ConsistentRead: true }))).Item;
  }
}

/**
 * Reclaim admission leases whose holder stopped writing them (it died, or a Lambda container stayed frozen
 * past the lease's expiry): the whole amount still held is charged as spent, because the holder may have
 * admitted requests from it whose cost nobody recorded. Leases already closed just lose their index entry.
 */
export async function sweepAdmissionLeases(doc: DocumentClient, table: string, nowMs: number): Promise<{ leases: number; reclaimed: number }> {
  let leases = 0;
  let reclaimed = 0;
  for (let shard = 0; shard < ADMISSION_LEASE_INDEX_SHARDS; shard++) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': admissionLeaseIndexPk(shard) }, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const entry of page.Items ?? []) {
        leases++;
        const counter = entry.counter as LedgerKey;
        const attr = `alease_${String(entry.leaseId)}`;
        const expAttr = `alexp_${String(entry.leaseId)}`;
        const item = (await doc.send(new GetCommand({ TableName: table, Key: counter, ConsistentRead: true }))).Item;
        const held = item?.[attr];
        if (typeof held === 'number' && num(item?.[expAttr]) > nowMs) continue; // alive
        if (typeof held === 'number') {
          try {
            await doc.send(
              new UpdateCommand({
                TableName: table,
                Key: counter,
                // `reclaimed` keeps what was charged this way visible next to `spent` (budget status, audits).
                UpdateExpression: 'REMOVE #lease, #exp ADD spent :held, reserved :neg, reclaimed :held',
                ConditionExpression: '#lease = :held AND #exp = :exp',
                ExpressionAttributeNames: { '#lease': attr, '#exp': expAttr },
                ExpressionAttributeValues: { ':held': held, ':neg': -held, ':exp': item?.[expAttr] ?? 0 },
              }),
            );
            reclaimed++;
          } catch (err) {
            if (!isConditionalCheckFailed(err)) throw err;
            continue; // its holder wrote it meanwhile: alive after all; look again next run
          }
        }
        await doc.send(new DeleteCommand({ TableName: table, Key: { pk: String(entry.pk), sk: String(entry.sk) } }));
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return { leases, reclaimed };
}
