/**
 * Admission from leases (lambda/store/admission-leases.ts) against a real DynamoDB implementation: several
 * gatekeepers on one store stand for several processes (each has its own leases). Hard caps and RPM must
 * stay exact under a concurrent race, steady-state admission must make no store call, and a dead holder's
 * lease must be reclaimed by the sweeper, charged in full.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { BudgetExceededError, RateLimitError } from '../../../lambda/core/errors';
import type { Admission } from '../../../lambda/core/gatekeeper';
import { documentClient } from '../../../lambda/store/dynamo';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey, rateWindowKey } from '../../../lambda/store/item-keys';
import { minuteWindow } from '../../../lambda/core/limits';
import { KeyStore } from '../../../lambda/store/key-store';
import { countDynamoRequests } from '../../../lambda/store/request-counter';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';
import { admission, failUpdates, fixedEstimate, loseResponses, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
const config = testConfig();
/** Worst case with a fixed 100-token estimate (125 after the safety factor) and max_tokens 100, priced at the dearer target (Haiku 4.5). */
const WORST = 657;
/** gpt-4o-mini: 100 in × $0.15 + 100 out × $0.60 per M = 75 micro-dollars. */
const ACTUAL = 75;
const DAY = '2026-11-25';

const clock = T0;
const gates: DynamoGatekeeper[] = [];

function newGate(keepWorstCases?: number): DynamoGatekeeper {
  const gate = createDynamoGatekeeper({
    client,
    tables,
    config,
    now: () => clock,
    estimateInputTokens: fixedEstimate(100),
    admissionLeases: { flushIntervalMs: 10_000, idleMs: 60_000, ...(keepWorstCases === undefined ? {} : { keepWorstCases }) },
  });
  gates.push(gate);
  return gate;
}

beforeAll(async () => {
  client = testDynamoClient();
  tables = await createTestTables(client, 'aleases');
  keys = new KeyStore({ client, table: tables.keys });
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

async function counter(keyId: string) {
  const out = await documentClient(client).send(new GetCommand({ TableName: tables.ledger, Key: budgetCounterKey('key', keyId, DAY), ConsistentRead: true }));
  return out.Item ?? {};
}

type Tried = { ok: true; admission: Admission } | { ok: false; err: unknown };

async function tryAdmit(gate: DynamoGatekeeper, apiKey: string, now = clock): Promise<Tried> {
  try {
    return { ok: true, admission: await gate.admit(admission(config, apiKey, { now })) };
  } catch (err) {
    return { ok: false, err };
  }
}

/**
 * 4 processes race 300 requests for a cap with room for 20 worst cases, not 21: never over the cap (every
 * admitted request holds its worst case), and the cap is used (at most one worst case can sit unused in each
 * process's lease); every refusal is a budget refusal. The admitted requests are settled at ACTUAL.
 */
async function raceForCap(name: string, newProcess: () => DynamoGatekeeper) {
  const cap = 20 * WORST + 300;
  const { apiKey, key: { keyId } } = await keys.create({ name, budgets: [{ scope: 'key', period: 'day', limitUsd: cap / 1e6, mode: 'hard' }] });
  const procs = [newProcess(), newProcess(), newProcess(), newProcess()];
  const tried = await Promise.all(Array.from({ length: 300 }, (_, i) => tryAdmit(procs[i % procs.length], apiKey)));
  const admitted = tried.filter((t): t is Extract<Tried, { ok: true }> => t.ok);
  for (const t of tried) if (!t.ok) expect(t.err).toBeInstanceOf(BudgetExceededError);
  expect(admitted.length * WORST).toBeLessThanOrEqual(cap);
  expect(admitted.length).toBeGreaterThanOrEqual(20 - 4);
  await Promise.all(admitted.map((a) => a.admission.settle(success(usage(100, 100)))));
  return { keyId, procs, admitted: admitted.length, cap };
}

describe('Method: admit (admission leases)', () => {
  it('recognises a flush whose answer was lost at its next write: the spend counted once, the lease still closes', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'lost-flush', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const gate = newGate();
    await (await gate.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
    const restore = loseResponses(client, (e) => e.startsWith('SET #lease = :new'));
    try {
      await gate.flushLeases();
    } finally {
      restore();
    }
    expect((await counter(keyId)).spent).toBe(ACTUAL);
    await (await gate.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
    await gate.flushLeases();
    expect((await counter(keyId)).spent).toBe(2 * ACTUAL);
    expect(await gate.releaseLeases()).toBe(0);
    expect(await counter(keyId)).toMatchObject({ spent: 2 * ACTUAL, reserved: 0, committed: 2 * ACTUAL });
  });

  it('holds a hard cap exactly when 4 processes race 300 requests, and leaves nothing reserved once leases go back', async () => {
    const { keyId, procs, admitted } = await raceForCap('race', () => newGate());
    await Promise.all(procs.map((p) => p.releaseLeases()));
    const c = await counter(keyId);
    expect(c.spent).toBe(admitted * ACTUAL);
    expect(c.reserved).toBe(0);
    expect(c.committed).toBe(c.spent);
    expect(Object.keys(c).filter((k) => k.startsWith('alease_'))).toEqual([]);
  });

  it('admits within the cap until it is used up, then refuses with 429 insufficient_quota', async () => {
    const cap = 5 * WORST;
    const { apiKey, key: { keyId } } = await keys.create({ name: 'sequential', budgets: [{ scope: 'key', period: 'day', limitUsd: cap / 1e6, mode: 'hard' }] });
    const [a, b] = [newGate(), newGate()];
    let admitted = 0;
    // Each admitted request spends its whole worst case, so exactly 5 fit whichever process admits them.
    for (let i = 0; i < 12; i++) {
      const t = await tryAdmit(i % 2 ? a : b, apiKey);
      if (!t.ok) {
        expect(t.err).toBeInstanceOf(BudgetExceededError);
        continue;
      }
      admitted++;
      await t.admission.settle({ ...success(usage(125, 100)), provider: 'bedrock', upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' });
      await Promise.all([a.flushLeases(), b.flushLeases()]);
    }
    expect(admitted).toBeLessThanOrEqual(5);
    expect(admitted).toBeGreaterThanOrEqual(4); // headroom parked in the other process's lease may refuse one
    await Promise.all([a.releaseLeases(), b.releaseLeases()]);
    const c = await counter(keyId);
    expect(c.spent).toBeLessThanOrEqual(cap);
    expect(c.reserved).toBe(0);
  });

  it('makes no store call between requests in steady state (lease covers them; spend flushed in one batch)', async () => {
    const { apiKey } = await keys.create({ name: 'steady', rateLimits: { rpm: 1000, tpm: 1_000_000 }, budgets: [{ scope: 'key', period: 'day', limitUsd: 10, mode: 'hard' }] });
    const gate = newGate();
    const counted = countDynamoRequests(client);
    // Warm up: key read, policies, lease opening; then a steady rate builds a lease that covers the next ones.
    for (let i = 0; i < 20; i++) await (await gate.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
    await gate.flushLeases();
    counted.reset();
    const admissions: Admission[] = [];
    const background = gate.backgroundStoreCalls();
    for (let i = 0; i < 5; i++) admissions.push(await gate.admit(admission(config, apiKey)));
    await Promise.all(admissions.map((a) => a.ready));
    // No read and no counter write before the upstream call: apart from background top-ups (counted apart),
    // the only calls are the requests' own lease index entries (the sweeper's pointer for a `lost` record),
    // group-committed: a PutItem when alone, one BatchWriteItem for those that arrived while one was in flight.
    const calls = counted.counts.total - (gate.backgroundStoreCalls() - background);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(5);
    expect((counted.counts.byCommand.PutItemCommand ?? 0) + (counted.counts.byCommand.BatchWriteItemCommand ?? 0)).toBe(calls);
    await Promise.all(admissions.map((a) => a.settle(success(usage(100, 100)))));
    counted.reset();
    await gate.flushLeases();
    // One write per counter for all five requests' spend (the budget counter; token usage below the estimate stays local).
    expect(counted.counts.byCommand.UpdateItemCommand ?? 0).toBeLessThanOrEqual(1);
    await gate.releaseLeases();
  });

  it('never admits more than RPM in a minute across 3 processes racing 120 requests', async () => {
    const { apiKey } = await keys.create({ name: 'rpm', rateLimits: { rpm: 25 } });
    const procs = [newGate(), newGate(), newGate()];
    const tried = await Promise.all(Array.from({ length: 120 }, (_, i) => tryAdmit(procs[i % 3], apiKey)));
    const admitted = tried.filter((t) => t.ok).length;
    for (const t of tried) if (!t.ok) expect(t.err).toBeInstanceOf(RateLimitError);
    expect(admitted).toBeLessThanOrEqual(25);
    // The stated bound: slots parked unused in another process's lease may refuse a few (given back when idle).
    expect(admitted).toBeGreaterThanOrEqual(25 - 3 * 2);
    await Promise.all(procs.map((p) => p.releaseLeases()));
  });
});

describe('Method: admit (leases of a process that serves one request at a time: keepWorstCases, as Lambda)', () => {
  it('keeps exactly one worst case after each request, in the one flush write, and admits the next from memory', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'one-at-a-time', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const gate = newGate(1);
    const counted = countDynamoRequests(client);
    for (let i = 0; i < 8; i++) {
      counted.reset();
      const a = await gate.admit(admission(config, apiKey));
      await a.ready;
      // Before the upstream call: the first request opens the lease (one counter write); later ones none.
      expect(counted.counts.byCommand.UpdateItemCommand ?? 0).toBe(i === 0 ? 1 : 0);
      await a.settle(success(usage(100, 100)));
      counted.reset();
      await gate.flushLeases({ holdMs: 60 * 60_000 });
      // The invocation's end: the spend and the lease's new size in one write.
      expect(counted.counts.byCommand.UpdateItemCommand ?? 0).toBe(1);
      const c = await counter(keyId);
      expect(c.spent).toBe((i + 1) * ACTUAL);
      expect(c.reserved).toBe(WORST);
      expect(c.committed).toBe(c.spent + WORST);
    }
    await gate.releaseLeases();
    expect(await counter(keyId)).toMatchObject({ spent: 8 * ACTUAL, reserved: 0, committed: 8 * ACTUAL });
  });

  it('parks one worst case per idle process near the cap, where leases sized by the recent rate park several', async () => {
    const run = async (keep: number | undefined) => {
      const { apiKey, key: { keyId } } = await keys.create({ name: `parked-${keep ?? 'rate'}`, budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
      const gate = newGate(keep);
      // A burst of 10 requests one after another, then the process goes idle (a frozen container).
      for (let i = 0; i < 10; i++) await (await gate.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
      await gate.flushLeases({ holdMs: 60 * 60_000 });
      const reserved = (await counter(keyId)).reserved as number;
      await gate.releaseLeases();
      return reserved;
    };
    expect(await run(1)).toBe(WORST);
    expect(await run(undefined)).toBeGreaterThan(2 * WORST);
  });

  it('parks an unusually large request\'s worst case for its next 8 requests only', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'one-large', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const gate = newGate(1);
    const serve = async (maxTokens: number) => {
      await (await gate.admit(admission(config, apiKey, { request: { max_tokens: maxTokens } }))).settle(success(usage(100, 100)));
      await gate.flushLeases({ holdMs: 60 * 60_000 });
      return (await counter(keyId)).reserved as number;
    };
    const small = await serve(100);
    expect(small).toBe(WORST);
    const large = await serve(4_000);
    expect(large).toBeGreaterThan(5 * WORST);
    // The large one stays the largest among the latest 8 for the next 7 small ones, then leaves the window.
    for (let i = 0; i < 7; i++) expect(await serve(100)).toBe(large);
    expect(await serve(100)).toBe(WORST);
    await gate.releaseLeases();
  });

  it('at the cap, a flush with nothing to move makes no write (no top-up the cap would refuse)', async () => {
    const cap = WORST + 100;
    const { apiKey, key: { keyId } } = await keys.create({ name: 'at-cap', budgets: [{ scope: 'key', period: 'day', limitUsd: cap / 1e6, mode: 'hard' }] });
    const gate = newGate(1);
    for (let i = 0; i < 2; i++) {
      await (await gate.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
      await gate.flushLeases({ holdMs: 60 * 60_000 });
    }
    // Two requests spent 2 × 75; the lease keeps what the cap leaves (657 - 75 + 25), not a whole worst case.
    expect(await counter(keyId)).toMatchObject({ spent: 2 * ACTUAL, committed: cap, reserved: cap - 2 * ACTUAL });
    const counted = countDynamoRequests(client);
    for (let i = 0; i < 3; i++) await gate.flushLeases({ holdMs: 60 * 60_000 });
    expect(counted.counts.byCommand.UpdateItemCommand ?? 0).toBe(0);
    // And the next worst case does not fit: refused, never over the cap.
    expect((await tryAdmit(gate, apiKey)).ok).toBe(false);
    expect((await counter(keyId)).committed).toBe(cap);
    await gate.releaseLeases();
  });

  it('never over-admits when a flush that gave headroom back landed but its answer was lost (a store timeout)', async () => {
    // Room for the large request's worst case (5,157 µ$ at max_tokens 4000) and two small ones.
    const cap = 5_157 + 2 * WORST;
    const { apiKey, key: { keyId } } = await keys.create({ name: 'lost-give-back', budgets: [{ scope: 'key', period: 'day', limitUsd: cap / 1e6, mode: 'hard' }] });
    const a = newGate(1);
    const serve = async (maxTokens: number) => {
      await (await a.admit(admission(config, apiKey, { request: { max_tokens: maxTokens } }))).settle(success(usage(100, 100)));
      await a.flushLeases({ holdMs: 60 * 60_000 });
    };
    await serve(4_000);
    expect((await counter(keyId)).reserved).toBe(5_157);
    for (let i = 0; i < 7; i++) await serve(100);
    // The 8th small request's flush gives back all but one small worst case; it lands, its answer is lost.
    const restore = loseResponses(client, (e) => e.startsWith('SET #lease = :new'));
    try {
      await (await a.admit(admission(config, apiKey))).settle(success(usage(100, 100)));
      await a.flushLeases({ holdMs: 60 * 60_000 });
    } finally {
      restore();
    }
    const after = await counter(keyId);
    expect(after.reserved).toBe(WORST);
    // Another process takes what the store has left; then both admit until refused.
    const b = newGate(1);
    const admitted: Admission[] = [];
    for (const gate of [b, a, b, a]) {
      for (let i = 0; i < 20; i++) {
        const t = await tryAdmit(gate, apiKey);
        if (!t.ok) break;
        admitted.push(t.admission);
      }
    }
    // Never over the cap: what was spent plus every admitted request's worst case.
    expect(admitted.length).toBeGreaterThan(0);
    expect((after.spent as number) + admitted.length * WORST).toBeLessThanOrEqual(cap);
    await Promise.all(admitted.map((x) => x.settle(success(usage(100, 100)))));
    await Promise.all([a.releaseLeases(), b.releaseLeases()]);
    expect((await counter(keyId)).reserved).toBe(0);
  });

  it('holds a hard cap exactly when 4 such processes race 300 requests', async () => {
    const { keyId, procs, admitted, cap } = await raceForCap('race-one-at-a-time', () => newGate(1));
    // Each process flushes as a container does after its invocation: the lease set to one worst case where
    // the cap leaves room for it, never over the cap.
    await Promise.all(procs.map((p) => p.flushLeases({ holdMs: 60 * 60_000 })));
    const flushed = await counter(keyId);
    expect(flushed.committed).toBeLessThanOrEqual(cap);
    expect(flushed.spent).toBe(admitted * ACTUAL);
    await Promise.all(procs.map((p) => p.releaseLeases()));
    expect(await counter(keyId)).toMatchObject({ spent: admitted * ACTUAL, reserved: 0, committed: admitted * ACTUAL });
  });
});

describe('Method: admit (rate leases across a minute boundary)', () => {
  const minute = minuteWindow(T0);
  /** A gatekeeper on its own clock, which the test moves. */
  function clockedGate(clock: { now: number }): DynamoGatekeeper {
    const gate = createDynamoGatekeeper({
      client,
      tables,
      config,
      now: () => clock.now,
      estimateInputTokens: fixedEstimate(100),
      admissionLeases: { flushIntervalMs: 10_000, idleMs: 60_000 },
    });
    gates.push(gate);
    return gate;
  }
  async function windowItem(keyId: string, atMs: number) {
    const out = await documentClient(client).send(new GetCommand({ TableName: tables.ledger, Key: rateWindowKey('key', keyId, minuteWindow(atMs)), ConsistentRead: true }));
    return out.Item ?? {};
  }
  /** Waits (bounded) until the next minute's item shows the lease taken ahead. */
  async function untilTaken(keyId: string, atMs: number): Promise<number> {
    for (let i = 0; i < 100; i++) {
      const requests = Number((await windowItem(keyId, atMs)).requests ?? 0);
      if (requests > 0) return requests;
      await new Promise((r) => setTimeout(r, 20));
    }
    return 0;
  }

  it('takes the next minute’s lease in the background near the end of a minute: the new minute’s first request makes no counter write', async () => {
    const { apiKey, key } = await keys.create({ name: 'rollover', rateLimits: { rpm: 1000, tpm: 1_000_000 } });
    const clock = { now: minute.startMs + 40_000 };
    const gate = clockedGate(clock);
    for (let i = 0; i < 20; i++, clock.now += 200) await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    // Nothing is taken ahead before the last NEXT_WINDOW_LEAD_MS of the minute.
    expect(await windowItem(key.keyId, minute.endMs)).toEqual({});
    clock.now = minute.endMs - 1_500;
    await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    const taken = await untilTaken(key.keyId, minute.endMs);
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThanOrEqual(1000);
    clock.now = minute.endMs + 100;
    const counted = countDynamoRequests(client);
    const background = gate.backgroundStoreCalls();
    const first = await gate.admit(admission(config, apiKey, { now: clock.now }));
    await first.ready;
    // The request's own lease index entry only: no UpdateItem on a window item between request and upstream.
    expect(counted.counts.total - (gate.backgroundStoreCalls() - background)).toBe(1);
    expect(counted.counts.byCommand.PutItemCommand).toBe(1);
    await first.settle(success(usage(100, 100)));
    // Giving leases back returns the unused slots of the (current) minute taken ahead: only the one admitted stays.
    await gate.releaseLeases();
    expect(Number((await windowItem(key.keyId, minute.endMs)).requests)).toBe(1);
  });

  /** Fails (before it is sent) the next `times` TPM corrections of a rate window, the write flushWindowExtra makes. */
  const failCorrections = (times: number) => failUpdates(client, (expr) => expr.endsWith('ADD tokens :t'), times);
  /**
   * A key with a TPM limit and a gatekeeper on its own clock (at `atMs`), which has settled one request that
   * used 2,000,000 input tokens where admission counted a 100-token estimate: far beyond what the lease holds.
   */
  async function overEstimated(name: string, atMs: number) {
    const { apiKey, key } = await keys.create({ name, rateLimits: { tpm: 1_000_000 } });
    const clock = { now: atMs };
    const gate = clockedGate(clock);
    await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(2_000_000, 100)));
    return { apiKey, key, clock, gate };
  }

  it('retries a TPM correction whose write failed at the next flush: tokens used beyond the estimate are not lost', async () => {
    const { key, clock, gate } = await overEstimated('tpm-correction-retry', minute.startMs + 10_000);
    const fault = failCorrections(2);
    try {
      await gate.flushLeases();
      expect(fault.failed()).toBe(1);
      expect(Number((await windowItem(key.keyId, clock.now)).tokens ?? 0)).toBeLessThan(2_000_000);
      await gate.flushLeases();
      expect(fault.failed()).toBe(2);
    } finally {
      fault.restore();
    }
    await gate.flushLeases();
    expect(Number((await windowItem(key.keyId, clock.now)).tokens)).toBeGreaterThanOrEqual(2_000_100);
    // Once landed, not sent again.
    const counted = countDynamoRequests(client);
    await gate.flushLeases();
    expect(counted.counts.byCommand.UpdateItemCommand ?? 0).toBe(0);
  });

  it('retries the correction of a minute that ended while it failed (the window item outlives its minute for this)', async () => {
    const { apiKey, key, clock, gate } = await overEstimated('tpm-correction-late', minute.startMs + 20_000);
    const fault = failCorrections(1);
    try {
      // The next minute's first request replaces the window lease, whose correction is written then: it fails.
      clock.now = minute.endMs + 1_000;
      await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
      for (let i = 0; i < 100 && fault.failed() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(fault.failed()).toBe(1);
    } finally {
      fault.restore();
    }
    await gate.flushLeases();
    expect(Number((await windowItem(key.keyId, minute.startMs)).tokens)).toBeGreaterThanOrEqual(2_000_100);
  });

  it('gives back a lease taken ahead that was never used (a shutdown in the last seconds of the minute)', async () => {
    const { apiKey, key } = await keys.create({ name: 'rollover-shutdown', rateLimits: { rpm: 1000 } });
    const clock = { now: minute.startMs + 45_000 };
    const gate = clockedGate(clock);
    for (let i = 0; i < 20; i++, clock.now += 200) await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    clock.now = minute.endMs - 1_000;
    await (await gate.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    expect(await untilTaken(key.keyId, minute.endMs)).toBeGreaterThan(0);
    await gate.releaseLeases();
    expect(Number((await windowItem(key.keyId, minute.endMs)).requests)).toBe(0);
  });

  it('keeps RPM exact in the next minute when 3 processes took leases ahead and then race 120 requests', async () => {
    const { apiKey, key } = await keys.create({ name: 'rollover-rpm', rateLimits: { rpm: 25 } });
    const clock = { now: minute.startMs + 50_000 };
    const procs = [clockedGate(clock), clockedGate(clock), clockedGate(clock)];
    for (let i = 0; i < 6; i++, clock.now += 1_000) await (await procs[i % 3].admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    clock.now = minute.endMs - 1_000;
    for (const p of procs) await (await p.admit(admission(config, apiKey, { now: clock.now }))).settle(success(usage(100, 100)));
    await untilTaken(key.keyId, minute.endMs);
    await new Promise((r) => setTimeout(r, 100)); // the other processes' writes ahead
    clock.now = minute.endMs + 500;
    const tried = await Promise.all(Array.from({ length: 120 }, (_, i) => tryAdmit(procs[i % 3], apiKey, clock.now)));
    const admitted = tried.filter((t) => t.ok).length;
    for (const t of tried) if (!t.ok) expect(t.err).toBeInstanceOf(RateLimitError);
    expect(admitted).toBeLessThanOrEqual(25);
    expect(admitted).toBeGreaterThanOrEqual(25 - 3 * 2);
    expect(Number((await windowItem(key.keyId, minute.endMs)).requests)).toBeLessThanOrEqual(25);
    await Promise.all(procs.map((p) => p.releaseLeases()));
    expect(Number((await windowItem(key.keyId, minute.endMs)).requests)).toBe(admitted);
  });
});

describe('Method: sweepExpiredReservations (admission leases of a dead process)', () => {
  it('reclaims the lease of a process that stopped writing it, charging what it held; a live one is kept', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'dead', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const dead = newGate();
    const alive = newGate();
    await dead.admit(admission(config, apiKey)); // admitted, never settled: the process dies here
    await dead.flushLeases(); // its background top-up lands before it dies
    const before = await counter(keyId);
    const held = Object.entries(before).filter(([k]) => k.startsWith('alease_'));
    expect(held).toHaveLength(1);
    const heldMicros = held[0][1] as number;
    expect(heldMicros).toBeGreaterThanOrEqual(WORST);

    // Not expired yet: nothing reclaimed.
    await alive.sweepExpiredReservations(clock + 1_000);
    expect((await counter(keyId))[held[0][0]]).toBe(heldMicros);

    const late = clock + (config.deployment.timeoutSeconds + 121) * 1_000;
    await alive.sweepExpiredReservations(late);
    const after = await counter(keyId);
    expect(after[held[0][0]]).toBeUndefined();
    expect(after.reserved).toBe(0);
    expect(after.spent).toBe(heldMicros);
    expect(after.reclaimed).toBe(heldMicros);
    expect(after.committed).toBe(heldMicros);
  });

  it('says how many leases a give-back-all left: one still in use by a request in flight is kept', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'inflight', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const gate = newGate();
    const a = await gate.admit(admission(config, apiKey));
    expect(await gate.releaseLeases()).toBe(1);
    expect(Object.keys(await counter(keyId)).filter((k) => k.startsWith('alease_'))).toHaveLength(1);
    await a.settle(success(usage(100, 100)));
    expect(await gate.releaseLeases()).toBe(0);
    expect(await counter(keyId)).toMatchObject({ spent: ACTUAL, reserved: 0, committed: ACTUAL });
  });

  it('keeps a lease flushed with a longer hold (a Lambda container about to be frozen) past the usual expiry, until the hold ends', async () => {
    const { apiKey, key: { keyId } } = await keys.create({ name: 'frozen', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const frozen = newGate();
    const sweeper = newGate();
    const a = await frozen.admit(admission(config, apiKey));
    await a.settle(success(usage(100, 100)));
    const holdMs = 60 * 60_000;
    // The container's own 1 s flush is under way when the invocation ends: the hold is written after it.
    await Promise.all([frozen.flushLeases(), frozen.flushLeases({ holdMs })]);
    const before = await counter(keyId);
    const [[attr, heldMicros]] = Object.entries(before).filter(([k]) => k.startsWith('alease_'));
    expect(before[attr.replace('alease_', 'alexp_')]).toBe(clock + holdMs);
    expect(before.spent).toBe(ACTUAL);

    // Past the usual lease time (timeout + 120 s), well within the hold: not reclaimed.
    expect((await sweeper.sweepExpiredReservations(clock + (config.deployment.timeoutSeconds + 121) * 1_000)).reclaimedLeases).toBe(0);
    expect(await counter(keyId)).toEqual(before);
    // After the hold: the holder is presumed dead; what it held is charged.
    expect((await sweeper.sweepExpiredReservations(clock + holdMs + 1)).reclaimedLeases).toBe(1);
    expect(await counter(keyId)).toMatchObject({ reserved: 0, spent: ACTUAL + (heldMicros as number), reclaimed: heldMicros });
  });
});

afterAll(async () => {
  for (const g of gates) await g.releaseLeases().catch(() => undefined);
});
