/**
 * The Gatekeeper on DynamoDB: authenticate (cached key lookup), attribute, then in ONE concurrent round
 * take the rate-limit slots and reserve the worst-case cost on every hard budget; settle moves each
 * reservation to the actual cost exactly once and records usage. See docs/table-design.md.
 *
 * Requests per gateway request (steady state, caches warm):
 *   admit:  0 reads. With admission leases (the default, admission-leases.ts): no write before the upstream
 *           call; the slots and the worst-case cost come from this process's leases in memory, topped up
 *           in the background. Without them: ONE concurrent round of 1 UpdateItem per rate limit (key,
 *           team) and 1 per hard budget. Either way 1 lease-index PutItem (the sweeper's pointer), sent once
 *           the upstream call has left and group-committed with concurrent requests' (group-commit.ts).
 *   settle: 1 PutItem (record, conditional; its derivation waits in this process's in-memory queue, no
 *           marker). With leases the spend and TPM corrections reach the counters in the leases' batched
 *           flushes; without them 1 UpdateItem per hard budget + 1 per TPM correction. Rollups and soft
 *           budgets are derived from records in batches (usage-deriver.ts). The lease index entry is left
 *           to TTL and the sweeper.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StoreClient } from './lean-client';
import { budgetName, periodKey, resolveBudgets, shardCaps, type BudgetAlertSink, type BudgetRule, type EffectiveBudget } from '../core/budgets';
import type { TollgateConfig } from '../core/config';
import { admissionStoreError, BadRequestError, BudgetExceededError, RateLimitError } from '../core/errors';
import type { Admission, AdmissionRequest, Attribution, Gatekeeper, RequestOutcome } from '../core/gatekeeper';
import { admissionTokens, hasLimits, rateLimitHeaders, retryAfterSeconds, type RateLimits, type RateLimitScope, type RateState } from '../core/limits';
import { buildUsageRecord, type AdmittedRequest, type SoftBudgetCharge } from '../core/metering';
import { outputCap, worstOutputTokens } from '../core/output-cap';
import { isValidModelName, MODEL_NAME_MAX_LENGTH } from '../core/model-name';
import { costMicros, microsToUsd, priceFor, refusedUnpriced, worstCaseCost } from '../core/pricing';
import { INPUT_ESTIMATE_SAFETY } from '../core/token-estimate';
import type { TokenUsage } from '../core/usage';
import { AdmissionLeases, sweepAdmissionLeases, type AdmissionLeaseOptions, type LeaseAdmission } from './admission-leases';
import { BudgetAlerts } from './budget-alerts';
import { DynamoBudgetLedger, type Lease, type LeaseSubject, type Reservation, type ReserveResult, type SpendChange } from './budget-ledger';
import { AmbiguousWriteError, countingClient, documentClient } from './dynamo';
import { GroupCommitWriter } from './group-commit';
import { attribute, checkKey, extractApiKey } from './key-auth';
import { hashApiKey, KeyStore, type ApiKeyRecord, type PolicyRecord } from './key-store';
import type { PolicyScope } from './item-keys';
import { DynamoRateLimiter, type AcquireResult, type RateCharge } from './rate-limiter';
import { TtlCache } from './ttl-cache';
import { LeaseSweeper, type SweepResult } from './lease-sweeper';
import { retryUntil, writeSettlement, type SettlementMessage, type SettlementOutbox } from './settlement';
import { UsageDeriver } from './usage-deriver';
import { UsageReader, UsageRecorder } from './usage-store';

/** Unknown keys are cached this briefly, so a flood of bad keys costs few reads but a new key works at once. */
const NEGATIVE_CACHE_MS = 1_000;
/** Leases outlive the Lambda timeout by this much before the sweeper may charge them. */
const LEASE_GRACE_SECONDS = 120;
const DEFAULT_SETTLE_RETRY_MS = 10_000;
/**
 * With deriveAfterSettle off: a batched derivation pass runs this long after a settlement. Rollups and soft
 * budgets (reports, alerts) lag by this much; hard caps and rate limits do not depend on it. A pass costs
 * about 12 store calls whatever its size: 5 s instead of 1 s (with lease flushes at 1 s) took the gateway's
 * CPU per request to 0.93x and its store's to 0.80x side by side (bench/ab-compare.ts, 2026-12-02).
 */
const DEFAULT_DERIVE_INTERVAL_MS = 5_000;
/** How long a request's answer waits for its lease index entry before going on without it. */
const INDEX_ENTRY_WAIT_MS = 2_000;

export interface DynamoGatekeeperOptions {
  client: StoreClient;
  tables: { keys: string; ledger: string };
  config: Pick<TollgateConfig, 'metering' | 'alerts' | 'pricing' | 'providers' | 'deployment'>;
  /** Clock for caches and the sweeper (admission periods use AdmissionRequest.now). */
  now?: () => number;
  alertSink?: BudgetAlertSink;
  /** Overrides the surface's input estimate (tests pin it to make worst-case costs exact). */
  estimateInputTokens?: (req: AdmissionRequest) => number;
  random?: () => number;
  /** Reservation lease; default deployment.timeoutSeconds + 120 s. */
  leaseSeconds?: number;
  /**
   * Called after each budget settlement (hard settle or soft charge) with the spend its own update
   * returned (no extra reads): `budget` is `scope:id:period` as in config.observability.watchedBudgets.
   * For the sharded global budget the values are the settling shard's spend and share of the cap (shards
   * fill evenly, so their ratio tracks the total's).
   */
  onBudgetSettled?: (e: BudgetSettledEvent) => void;
  /** Failures that must not fail the request (an alert that could not be sent). */
  onError?: (err: unknown, context: string) => void;
  /**
   * Admit from per-process leases of budget headroom and rate-limit slots (store/admission-leases.ts):
   * no store round trip before the upstream call in steady state. Off: one reservation round per request.
   */
  admissionLeases?: boolean | Pick<AdmissionLeaseOptions, 'horizonMs' | 'maxShare' | 'flushIntervalMs' | 'idleMs' | 'keepWorstCases'>;
  /** Where a settlement goes when the store cannot take it within `settleRetryMs` (never dropped). */
  outbox?: SettlementOutbox;
  /** How long settlement retries with backoff before it goes to the outbox; default 10 s. */
  settleRetryMs?: number;
  /**
   * Run a derivation pass at the end of each settlement (default true: rollups are current when settle
   * resolves). Off (what the Lambda handler and the local server run): settlement writes the record and
   * no more; a pass over the records committed meanwhile runs `deriveIntervalMs` later, off the request
   * path, in batches (and on derive(): the sweeper, shutdown).
   */
  deriveAfterSettle?: boolean;
  /** With `deriveAfterSettle` off: how long after a settlement the batched pass runs; default 5 s. */
  deriveIntervalMs?: number;
}

export interface BudgetSettledEvent {
  /** `scope:id:period`, e.g. `team:search:month`, `global:*:month`. */
  budget: string;
  /** The period key charged (`2026-11`, `2026-11-25`). */
  period: string;
  /** Global budget shard, when sharded. */
  shard?: number;
  spentMicros: number;
  limitMicros: number;
}

export interface DynamoGatekeeper extends Gatekeeper {
  readonly keys: KeyStore;
  readonly usage: UsageReader;
  /**
   * Move spend settled from admission leases to the budget counters now (Lambda: before the container
   * freezes). `holdMs`: how long the leases written now stay theirs without another write (see flush()).
   */
  flushLeases(opts?: { holdMs?: number }): Promise<void>;
  /**
   * Give every admission lease not in use back (shutdown; tests that look at `reserved`). Admission goes on,
   * re-leasing. Resolves to the number of budget leases not given back: still in use by a request in
   * flight, or whose give-back failed (left to the sweeper).
   */
  releaseLeases(): Promise<number>;
  /** Store calls made off the request path so far (lease flushes and proactive top-ups, derivation passes), for the benchmark. */
  backgroundStoreCalls(): number;
  /** Of those, the reads. */
  backgroundStoreReads(): number;
  /**
   * Handle leases that expired at or before `nowMs` (default now): a request that died unsettled gets its
   * `lost` record and its reservations are charged at the worst case (lease-sweeper.ts).
   */
  sweepExpiredReservations(nowMs?: number): Promise<SweepResult>;
  /** Write an outbox message's settlement (idempotent) and derive it. */
  replaySettlement(message: SettlementMessage): Promise<void>;
  /** Run the deriver until nothing is pending (rollups and soft budgets from records). */
  derive(): Promise<void>;
  /** Records committed by this process and not yet planned by a derivation pass. */
  pendingDerivations(): number;
  /**
   * Derive this process's queued records now if `maxQueued` are waiting or the oldest has waited `maxAgeMs`
   * (the Lambda handler after each invocation: a frozen container runs no timer). True when it ran a pass.
   */
  deriveIfDue(maxQueued: number, maxAgeMs: number): Promise<boolean>;
  /** How long a lease lasts (ms): admission + this is when the sweeper may treat a request as dead. */
  readonly leaseMs: number;
  clearCaches(): void;
}

interface LimitTarget {
  scope: RateLimitScope;
  id: string;
  limits: RateLimits;
}

export function createDynamoGatekeeper(opts: DynamoGatekeeperOptions): DynamoGatekeeper {
  const { config } = opts;
  const doc = documentClient(opts.client);
  const clock = opts.now ?? Date.now;
  const keys = new KeyStore({ client: opts.client, table: opts.tables.keys, now: clock });
  const usage = new UsageReader({ client: opts.client, table: opts.tables.ledger, globalBudgetShards: config.metering.globalBudgetShards });
  const limiter = new DynamoRateLimiter(doc, opts.tables.ledger);
  const ledger = new DynamoBudgetLedger(doc, opts.tables.ledger, { globalShards: config.metering.globalBudgetShards, random: opts.random });
  // The requests' own lease index entries (no counters), started once the upstream call has left (indexEntry).
  const indexWriter = new GroupCommitWriter(doc, opts.tables.ledger);
  const deriver = new UsageDeriver(doc, opts.tables.ledger, {
    globalShards: config.metering.globalBudgetShards,
    random: opts.random,
    onSpend: (changes) => reportSpend(changes),
    onError: (err, context) => onError(err, context),
  });
  // Records this process commits wait in the deriver's memory (no marker write on the request path).
  const recorder = new UsageRecorder(doc, opts.tables.ledger, config.metering.requestRecordTtlDays, deriver);
  // The sweeper's own reads and writes are background work (a timer), counted apart like the deriver's.
  const sweeperCount = { calls: 0, reads: 0 };
  const sweeper = new LeaseSweeper(countingClient(doc, sweeperCount), opts.tables.ledger, ledger, recorder, config.metering.requestRecordTtlDays);
  const alerts = opts.alertSink ? new BudgetAlerts({ ledger, usage, sink: opts.alertSink, globalShards: config.metering.globalBudgetShards, now: clock }) : undefined;
  const estimate = opts.estimateInputTokens ?? ((req: AdmissionRequest) => req.estimate.inputTokens);
  const random = opts.random ?? Math.random;
  const leaseMs = (opts.leaseSeconds ?? config.deployment.timeoutSeconds + LEASE_GRACE_SECONDS) * 1_000;
  const leases = opts.admissionLeases
    ? new AdmissionLeases({
        ...(typeof opts.admissionLeases === 'object' ? opts.admissionLeases : {}),
        doc,
        table: opts.tables.ledger,
        globalShards: config.metering.globalBudgetShards,
        now: clock,
        random: opts.random,
        leaseTtlMs: leaseMs,
        onSpend: (changes) => reportSpend(changes),
        onError: (err, context) => onError(err, context),
      })
    : undefined;
  const cacheMs = config.metering.keyCacheSeconds * 1_000;
  const keyCache = new TtlCache<ApiKeyRecord | undefined>();
  const policyCache = new TtlCache<PolicyRecord | undefined>();
  const onError = opts.onError ?? (() => undefined);
  const settleRetryMs = opts.settleRetryMs ?? DEFAULT_SETTLE_RETRY_MS;

  // Concurrent requests for the same key in one container share one read (no stampede on a cold cache).
  const keyReads = new Map<string, Promise<ApiKeyRecord | undefined>>();
  async function lookupKey(secret: string): Promise<ApiKeyRecord | undefined> {
    const hash = hashApiKey(secret);
    const cached = keyCache.get(hash, clock());
    if (cached.hit) return cached.value;
    let read = keyReads.get(hash);
    if (!read) {
      read = keys
        .findBySecret(secret)
        .then((key) => {
          keyCache.set(hash, key, key ? cacheMs : Math.min(cacheMs, NEGATIVE_CACHE_MS), clock());
          return key;
        })
        .finally(() => keyReads.delete(hash));
      keyReads.set(hash, read);
    }
    return read;
  }

  const policyReads = new Map<string, Promise<PolicyRecord | undefined>>();
  async function loadPolicies(a: Attribution): Promise<PolicyRecord[]> {
    const refs: Array<{ scope: PolicyScope; id: string }> = [{ scope: 'global', id: '*' }];
    if (a.team) refs.push({ scope: 'team', id: a.team });
    if (a.customer) refs.push({ scope: 'customer', id: a.customer });
    if (a.feature) refs.push({ scope: 'feature', id: a.feature });
    const now = clock();
    const found: Array<PolicyRecord | undefined> = [];
    const missing: typeof refs = [];
    const pending: Array<Promise<PolicyRecord | undefined>> = [];
    for (const ref of refs) {
      const id = `${ref.scope}#${ref.id}`;
      const c = policyCache.get(id, now);
      if (c.hit) found.push(c.value);
      else if (policyReads.has(id)) pending.push(policyReads.get(id)!);
      else missing.push(ref);
    }
    if (missing.length > 0) {
      const batch = keys.getPolicies(missing);
      for (const ref of missing) {
        const id = `${ref.scope}#${ref.id}`;
        const read = batch
          .then((loaded) => {
            const p = loaded.get(id);
            policyCache.set(id, p, cacheMs, clock());
            return p;
          })
          .finally(() => policyReads.delete(id));
        policyReads.set(id, read);
        pending.push(read);
      }
    }
    found.push(...(await Promise.all(pending)));
    return found.filter((p): p is PolicyRecord => p !== undefined);
  }

  async function authenticate(headers: Headers, now: number): Promise<void> {
    checkKey(await lookupKey(extractApiKey(headers)).catch(admissionStoreError), undefined, now);
  }

  /** Admission; a store call that fails (timeout, throttling) refuses the request with 503, uncharged. */
  function admit(req: AdmissionRequest): Promise<Admission> {
    return admitFromStore(req).catch(admissionStoreError);
  }

  async function admitFromStore(req: AdmissionRequest): Promise<Admission> {
    const key = checkKey(await lookupKey(extractApiKey(req.headers)), req.model, req.now);
    checkPriced(req);
    const attribution = attribute(key, req);
    const policies = await loadPolicies(attribution);
    const rules: BudgetRule[] = [...key.budgets, ...policies.flatMap((p) => p.budgets)];
    const budgets = resolveBudgets(rules, attribution, config.alerts.budgetThresholdsPercent);
    const hard = budgets.filter((b) => b.mode === 'hard');
    const soft = budgets.filter((b) => b.mode === 'soft');

    const inputEstimate = estimate(req);
    // The output cap per target (core/output-cap.ts) from what the surface says the client asked for.
    const asked = { max_tokens: req.estimate.maxOutputTokens, n: req.estimate.n };
    // Priced per target at the output cap that target will be sent (core/output-cap.ts), n choices included.
    // Unpriced targets left here opted in to $0 metering (checkPriced): they reserve nothing. The worst
    // case is what a hard budget reserves, and what the request is charged if it dies unsettled.
    const reserveMicros = worstCaseCost(config, req.targets, Math.ceil(inputEstimate * INPUT_ESTIMATE_SAFETY), (t) => outputCap(asked, req.modelConfig, t).total).costMicros;

    const limitTargets: LimitTarget[] = [];
    if (hasLimits(key.rateLimits)) limitTargets.push({ scope: 'key', id: key.keyId, limits: key.rateLimits });
    const teamLimits = policies.find((p) => p.scope === 'team')?.rateLimits;
    if (attribution.team && hasLimits(teamLimits)) limitTargets.push({ scope: 'team', id: attribution.team, limits: teamLimits });
    const tokens = admissionTokens(inputEstimate, worstOutputTokens(asked, req.modelConfig, req.targets));

    const softBudgets: SoftBudgetCharge[] = soft.map((b) => ({ ...b, periodKey: periodKey(b.period, req.now) }));
    const admitted: AdmittedRequest = {
      requestId: req.requestId,
      admittedAt: req.now,
      day: new Date(req.now).toISOString().slice(0, 10),
      keyId: attribution.keyId,
      keyName: attribution.keyName,
      team: attribution.team,
      customer: attribution.customer,
      environment: attribution.environment,
      feature: attribution.feature,
      model: req.model,
      stream: req.stream,
      reservedMicros: reserveMicros,
      softBudgets: softBudgets.length > 0 ? softBudgets : undefined,
    };
    const subject: LeaseSubject = { request: admitted, recordTtlDays: config.metering.requestRecordTtlDays };

    if (leases && (hard.length > 0 || limitTargets.length > 0)) {
      const periodOf = (b: EffectiveBudget) => periodKey(b.period, req.now);
      const r = await leases.admit({ budgets: hard.map((b) => ({ budget: b, period: periodOf(b) })), costMicros: reserveMicros, limits: limitTargets, tokens, now: req.now });
      if (!r.ok) throw r.kind === 'budget' ? budgetError(r) : rateLimitError(limitTargets[r.index], { admitted: false, state: r.state, exceeded: r.exceeded }, req.now);
      return {
        attribution,
        ready: indexEntry(req, subject),
        headers: rateLimitHeaders(r.states, req.now),
        settle: once((outcome) => settle({ req, attribution, leaseId: req.requestId, reservations: [], softBudgets, reserveMicros, charges: [], outcome, leased: r })),
        price: priceUsage,
      };
    }

    if (hard.length === 0 && limitTargets.length === 0) {
      // Nothing to reserve: the index entry is the only write, started once the upstream call has left.
      return {
        attribution,
        ready: indexEntry(req, subject),
        headers: {},
        settle: once((outcome) => settle({ req, attribution, leaseId: req.requestId, reservations: [], softBudgets, reserveMicros, charges: [], outcome })),
        price: priceUsage,
      };
    }

    // Unique even if a caller reuses a request id: two reservations must never share a lease attribute.
    const leaseId = `${req.requestId}.${Math.floor(random() * 0xffffffff).toString(36)}`;
    // Every admitted request has a lease index entry, budgeted or not: if its process dies, the sweeper
    // finds it there and writes its `lost` record (and charges its reservations).
    const lease = ledger.newLease(leaseId, req.now + leaseMs);
    const leaseCounters = hard.flatMap((b) => ledger.counterKeys(b, periodKey(b.period, req.now)).map((k) => ({ key: k, costMicros: reserveMicros })));

    // ONE concurrent round: the lease index entry (issued first), rate-limit slots and budget reservations.
    // The request is admitted only if all of them succeeded, so an admitted request that later dies always
    // has an index entry for the sweeper; an entry whose reservations failed or never happened is harmless.
    const [leaseResults, limitResults, reserveResults] = await Promise.all([
      Promise.allSettled([ledger.openLease(leaseId, lease.expiresAt, leaseCounters, lease, subject)]),
      Promise.allSettled(limitTargets.map((t) => limiter.acquire(t.scope, t.id, t.limits, tokens, req.now, leaseId))),
      Promise.allSettled(hard.map((b) => ledger.reserve(b, periodKey(b.period, req.now), reserveMicros, leaseId))),
    ]);
    const charges = fulfilled(limitResults).filter((r): r is Extract<AcquireResult, { admitted: true }> => r.admitted).map((r) => r.charge);
    const reservations = fulfilled(reserveResults).filter((r): r is Extract<ReserveResult, { ok: true }> => r.ok).map((r) => r.reservation);
    const failure = firstRejection([...leaseResults, ...limitResults, ...reserveResults]);
    const overBudget = fulfilled(reserveResults).find((r): r is Extract<ReserveResult, { ok: false }> => !r.ok);
    const overLimitAt = limitResults.findIndex((r) => r.status === 'fulfilled' && !r.value.admitted);

    if (failure !== undefined || overBudget || overLimitAt >= 0) {
      await undoAdmission({ leaseId, leaseResults, lease, leaseCounters, charges, reservations, limitResults, reserveResults });
      if (failure !== undefined) throw failure instanceof AmbiguousWriteError ? failure.cause : failure;
      if (overBudget) throw budgetError(overBudget);
      const rejected = (limitResults[overLimitAt] as PromiseFulfilledResult<Extract<AcquireResult, { admitted: false }>>).value;
      throw rateLimitError(limitTargets[overLimitAt], rejected, req.now);
    }

    const states = fulfilled(limitResults).map((r) => r.state);
    return {
      attribution,
      headers: rateLimitHeaders(states, req.now),
      settle: once((outcome) => settle({ req, attribution, leaseId, reservations, softBudgets, reserveMicros, charges, outcome })),
      price: priceUsage,
    };
  }

  /** The one pricing of a request's usage: settlement charges it, the client is told it (usage.cost). */
  function priceUsage(usage: TokenUsage, provider: string, upstreamModel: string): number | undefined {
    const price = priceFor(config, provider, upstreamModel);
    return price ? costMicros(usage, price) : undefined;
  }

  /**
   * Before anything is written: the model name is one a record key can hold, and every target the router
   * may try has a price (or its provider opted in to $0 metering). Unpriced is refused, budget or not: a
   * request the gateway cannot price is spend nobody sees.
   */
  function checkPriced(req: AdmissionRequest): void {
    if (!isValidModelName(req.model)) {
      throw new BadRequestError(`Invalid value for 'model': at most ${MODEL_NAME_MAX_LENGTH} characters of letters, digits and . _ : / @ + = ~ -.`, { param: 'model', code: 'invalid_value' });
    }
    const refused = refusedUnpriced(config, req.targets);
    if (refused.length === 0) return;
    const names = refused.map((t) => `${t.provider}/${t.model}`).join(', ');
    throw new BadRequestError(
      `No price is known for ${names}, so the gateway cannot meter it. Add it to config.pricing, or set meterUnpricedAtZero on the provider to serve it at $0.`,
      { param: 'model', code: 'model_not_priced' },
    );
  }

  /**
   * Undo everything a refused admission took, so a refused request costs nothing: slots it took are
   * released, reservations that landed are released, and writes that failed ambiguously (timeout, lost
   * response: they may have landed) get a conditional, idempotent undo. The lease index entry is deleted
   * only when every reservation is known to be absent or released; otherwise it stays (re-put if its own
   * write failed), so the sweeper releases whatever is left once the lease expires. An ambiguous
   * reservation is never "known" absent: its write may still be in flight and land after the release
   * found nothing, so its entry always stays (the sweeper then finds no lease and writes nothing).
   */
  async function undoAdmission(u: {
    leaseId: string;
    leaseResults: ReadonlyArray<PromiseSettledResult<unknown>>;
    lease: Lease;
    leaseCounters: ReadonlyArray<{ key: Reservation['key']; costMicros: number }>;
    charges: RateCharge[];
    reservations: Reservation[];
    limitResults: ReadonlyArray<PromiseSettledResult<AcquireResult>>;
    reserveResults: ReadonlyArray<PromiseSettledResult<ReserveResult>>;
  }): Promise<void> {
    const ambiguousCharges = rejectedReasons(u.limitResults).flatMap((e) => (e instanceof AmbiguousWriteError ? [e.pending as RateCharge] : []));
    const ambiguousReservations = rejectedReasons(u.reserveResults).flatMap((e) => (e instanceof AmbiguousWriteError ? [e.pending as Reservation] : []));
    // A rejected reserve that is not ambiguous failed on a read after its condition failed: nothing landed.
    const reservationsToRelease = [...u.reservations, ...ambiguousReservations];
    const [chargeUndos, reservationUndos] = await Promise.all([
      Promise.allSettled([...u.charges.map((c) => limiter.release(c)), ...ambiguousCharges.map((c) => limiter.giveBack(c))]),
      Promise.allSettled(reservationsToRelease.map((r) => ledger.release(r, u.leaseId))),
    ]);
    for (const e of rejectedReasons(chargeUndos)) onError(e, 'rate-release');
    for (const e of rejectedReasons(reservationUndos)) onError(e, 'reservation-release');
    if (ambiguousReservations.length === 0 && reservationUndos.every((r) => r.status === 'fulfilled')) {
      await ledger.closeLease(u.lease).catch((err: unknown) => onError(err, 'lease-close'));
    } else {
      // A reservation may still be held: the entry stays, flagged refused, so the sweeper releases (not
      // charges) it and writes no record. Put again: its own put may have failed, too.
      await ledger.openLease(u.lease.leaseId, u.lease.expiresAt, u.leaseCounters, u.lease, { refused: true }).catch((err: unknown) => onError(err, 'lease-reopen'));
    }
  }

  async function settle(s: {
    req: AdmissionRequest;
    attribution: Attribution;
    leaseId: string;
    reservations: Reservation[];
    softBudgets: SoftBudgetCharge[];
    reserveMicros: number;
    charges: RateCharge[];
    outcome: RequestOutcome;
    /** Admitted from admission leases: the actual cost and tokens go back to them (flushed in batches). */
    leased?: Extract<LeaseAdmission, { ok: true }>;
  }): Promise<void> {
    const { outcome } = s;
    const priced = outcome.usage && outcome.provider && outcome.upstreamModel ? priceUsage(outcome.usage, outcome.provider, outcome.upstreamModel) : undefined;
    const actual = priced ?? 0;
    const actualTokens = outcome.usage ? outcome.usage.inputTokens + outcome.usage.outputTokens : 0;
    s.leased?.settle(actual, actualTokens);
    const record = buildUsageRecord({
      requestId: s.req.requestId,
      admittedAt: s.req.now,
      attribution: s.attribution,
      model: s.req.model,
      outcome,
      costMicros: actual,
      unpriced: outcome.usage !== undefined && priced === undefined,
      evidence: s.req.evidence,
      reservedMicros: s.reserveMicros,
      softBudgets: s.softBudgets.length > 0 ? s.softBudgets : undefined,
    });
    const message: SettlementMessage = {
      kind: 'tollgate.settlement.v1',
      record,
      leaseId: s.leaseId,
      reservations: s.reservations,
      recordTtlDays: config.metering.requestRecordTtlDays,
    };

    // Ledger first: the record, then the reservations it settles, retried until the deadline; what still
    // cannot be written goes to the outbox. Nothing else (rate windows, alerts, rollups) may stand first.
    let changes: SpendChange[] = [];
    let failure: unknown;
    try {
      changes = await retryUntil(() => writeSettlement({ recorder, ledger }, message), { deadline: clock() + settleRetryMs, now: clock });
    } catch (err) {
      if (!opts.outbox) failure = err;
      else {
        onError(err, 'settlement-outboxed');
        await opts.outbox.put(message);
      }
    }
    // A correction that adds tokens is retried like the settlement (a retry after a lost answer counts them
    // twice: stricter for the rest of the minute, never looser); one that gives unused estimate back is sent
    // once (applied twice it would loosen the limit).
    const correct = (c: RateCharge) => limiter.correctTokens(c, actualTokens);
    const tpm = await Promise.allSettled(s.charges.map((c) => (actualTokens > c.tokens ? retryUntil(() => correct(c), { deadline: clock() + settleRetryMs, now: clock }) : correct(c))));
    for (const e of rejectedReasons(tpm)) onError(e, 'tpm-correction');
    await reportSpend(changes);
    if (failure !== undefined) throw failure;
    if (opts.deriveAfterSettle !== false) await derive();
    else deriver.schedule(opts.deriveIntervalMs ?? DEFAULT_DERIVE_INTERVAL_MS, (err) => onError(err, 'derive'));
  }

  /**
   * The request's own lease index entry (no counters: its spend is on the process's admission lease, or it
   * has none): what lets the sweeper write its `lost` record if the process dies. It is written while the
   * upstream call starts, and the pipeline holds the client's first byte until it has landed, so every
   * request whose client saw an answer has one (in the kill -9 test: every stream that was generating).
   * If it fails, the request goes on: its record is still written at settlement; only a death before that
   * would leave it unrecorded, its spend still covered by the admission lease the sweeper reclaims in full.
   *
   * It starts on the next turn of the event loop (setImmediate), after the upstream request has left: the
   * item's marshalling, signing and HTTP request are then done while the upstream thinks, not before the
   * upstream call (bench/ab-compare.ts: request → upstream call p50 2.03 → 1.68 ms). A death between the
   * two leaves a request the upstream may bill and the client never saw: the same "never answered" case as
   * a failed entry, covered by the reclaimed admission lease.
   */
  function indexEntry(req: AdmissionRequest, subject: LeaseSubject): Promise<void> {
    // Group commit: alone it is one PutItem sent at once; entries of concurrent requests that arrive while
    // one is in flight leave together in one BatchWriteItem (group-commit.ts).
    const written = nextTurn()
      .then(() => indexWriter.put(ledger.leaseIndexItem(req.requestId, req.now + leaseMs, [], undefined, subject)))
      .then(
        () => undefined,
        (err: unknown) => onError(err, 'lease-index'),
      );
    // A store that hangs must not hold the answer forever: after INDEX_ENTRY_WAIT_MS the answer goes on
    // (the write too, in the background; the record still comes at settlement).
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        onError(new Error(`lease index entry not written within ${INDEX_ENTRY_WAIT_MS} ms`), 'lease-index');
        resolve();
      }, INDEX_ENTRY_WAIT_MS);
      timer.unref();
    });
    return Promise.race([written.finally(() => clearTimeout(timer)), waited]);
  }

  /** Utilisation metrics and threshold alerts from the spend a settlement (or a lease flush) returned. */
  async function reportSpend(changes: SpendChange[]): Promise<void> {
    if (opts.onBudgetSettled) {
      for (const c of changes) {
        const b = c.budget;
        const limitMicros = c.shard === undefined ? b.limitMicros : (shardCaps(b.limitMicros, config.metering.globalBudgetShards)[c.shard] ?? 0);
        try {
          opts.onBudgetSettled({ budget: budgetName(b), period: c.period, shard: c.shard, spentMicros: c.afterMicros, limitMicros });
        } catch (err) {
          onError(err, 'budget-settled');
        }
      }
    }
    if (alerts) await alerts.evaluate(changes).catch((err: unknown) => onError(err, 'budget-alert'));
  }

  /** Roll up what is pending (this request's record included); failures are retried by the next pass. */
  async function derive(): Promise<void> {
    await deriver.kick().catch((err: unknown) => onError(err, 'derive'));
  }

  /** An outbox message (local file or SQS), replayed: counts once however many times it is replayed. */
  async function replaySettlement(message: SettlementMessage): Promise<void> {
    await reportSpend(await writeSettlement({ recorder, ledger }, message));
    await derive();
  }

  return {
    authenticate,
    admit,
    keys,
    usage,
    async sweepExpiredReservations(nowMs = clock()) {
      const [result, leased] = await Promise.all([sweeper.sweep(nowMs, clock()), sweepAdmissionLeases(doc, opts.tables.ledger, nowMs)]);
      await derive();
      // A dead process's admission leases are charged in full (admission-leases.ts).
      return { ...result, leases: result.leases + leased.leases, reclaimedLeases: leased.reclaimed };
    },
    flushLeases: async (o) => leases?.flush(o),
    releaseLeases: async () => (leases ? leases.giveBackIdle(true) : 0),
    backgroundStoreCalls: () => (leases?.backgroundCalls ?? 0) + deriver.count.calls + sweeperCount.calls,
    backgroundStoreReads: () => (leases?.backgroundReads ?? 0) + deriver.count.reads + sweeperCount.reads,
    replaySettlement,
    derive: () => deriver.kick(),
    pendingDerivations: () => deriver.queued,
    deriveIfDue: (maxQueued, maxAgeMs) => deriver.deriveIfDue(maxQueued, maxAgeMs),
    leaseMs,
    clearCaches() {
      keyCache.clear();
      policyCache.clear();
    },
  };
}

function fulfilled<T>(results: ReadonlyArray<PromiseSettledResult<T>>): T[] {
  return results.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled').map((r) => r.value);
}

function rejectedReasons(results: ReadonlyArray<PromiseSettledResult<unknown>>): unknown[] {
  return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
}

function firstRejection(results: ReadonlyArray<PromiseSettledResult<unknown>>): unknown {
  const r = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  return r ? (r.reason as unknown) ?? new Error('rejected') : undefined;
}

function once<T>(fn: (arg: T) => Promise<void>): (arg: T) => Promise<void> {
  let done: Promise<void> | undefined;
  return (arg) => (done ??= fn(arg));
}

function usd(micros: number): string {
  return `$${microsToUsd(micros).toFixed(micros < 10_000 ? 6 : 2)}`;
}

function budgetError(r: Extract<ReserveResult, { ok: false }>): BudgetExceededError {
  const b = r.budget;
  const name = `${b.scope}:${b.id}:${b.period}`;
  return new BudgetExceededError(
    `Budget ${name} is exhausted for ${r.period}: ${usd(r.committedMicros)} of ${usd(b.limitMicros)} is spent or reserved, ` +
      `and this request could cost up to ${usd(r.costMicros)}. Lower max_tokens, or ask an admin to raise the budget.`,
    { headers: { 'x-tollgate-budget': name } },
  );
}

function rateLimitError(target: LimitTarget, r: Extract<AcquireResult, { admitted: false }>, nowMs: number): RateLimitError {
  const s: RateState = r.state;
  const retryAfter = retryAfterSeconds(s.window, nowMs);
  const headers = { ...rateLimitHeaders([s], nowMs), 'retry-after': String(retryAfter) };
  const what =
    r.exceeded === 'requests'
      ? `requests per min (RPM): Limit ${s.limits.rpm}, Used ${s.requests}, Requested 1`
      : `tokens per min (TPM): Limit ${s.limits.tpm}, Used ${s.tokens}`;
  return new RateLimitError(`Rate limit reached for ${target.scope} ${target.id} on ${what}. Please try again in ${retryAfter}s.`, {
    headers,
    code: r.exceeded === 'requests' ? 'rate_limit_exceeded' : 'tokens_rate_limit_exceeded',
  });
}
