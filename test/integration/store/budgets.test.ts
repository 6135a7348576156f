import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BudgetExceededError } from '../../../lambda/core/errors';
import type { Admission, RequestOutcome } from '../../../lambda/core/gatekeeper';
import { DynamoBudgetLedger } from '../../../lambda/store/budget-ledger';
import { documentClient } from '../../../lambda/store/dynamo';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey, leaseIndexPk, leaseIndexUpperBound } from '../../../lambda/store/item-keys';
import { KeyStore } from '../../../lambda/store/key-store';
import { countDynamoRequests } from '../../../lambda/store/request-counter';
import { createTestTables, deleteTestTables, type TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, failure, fixedEstimate, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
const config = testConfig();
/** Worst case with a fixed 100-token estimate (125 after the safety factor) and max_tokens 100, priced at the dearer target (Haiku 4.5: 125 × $1.25 + 100 × $5 per M). */
const WORST = 657;

/** Served by Haiku on Bedrock: 100 in × $1 + 100 out × $5 per M = 600 micro-dollars. */
function haikuSuccess(endedAt = T0 + 1_000): RequestOutcome {
  return { ...success(usage(100, 100), endedAt), provider: 'bedrock', upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' };
}

beforeAll(async () => {
  ({ client, tables, keys, gate } = await openGatekeeperFixture('budgets', { config, estimate: 100 }));
});

afterAll(() => closeGatekeeperFixture({ client, tables }));

async function counter(scope: 'key' | 'team' | 'global', id: string, period: string, shard?: number) {
  const out = await documentClient(client).send(
    new GetCommand({ TableName: tables.ledger, Key: budgetCounterKey(scope, id, period, shard), ConsistentRead: true }),
  );
  return out.Item ?? {};
}

async function records(day: string, keyId: string) {
  const items: Array<Record<string, unknown>> = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await documentClient(client).send(
      new QueryCommand({
        TableName: tables.ledger,
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: 'keyId = :k',
        ExpressionAttributeValues: { ':pk': `req#${day}`, ':k': keyId },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

function leaseAttributes(item: Record<string, unknown>) {
  return Object.keys(item).filter((k) => k.startsWith('lease_') || k.startsWith('swept_'));
}

/** Lease index entries whose reservation is still open on one of its counters (settled entries stay until TTL). */
async function openLeases(ledgerTable = tables.ledger): Promise<number> {
  const doc = documentClient(client);
  let n = 0;
  for (let shard = 0; shard < 8; shard++) {
    const out = await doc.send(
      new QueryCommand({
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk AND sk < :upper',
        ExpressionAttributeValues: { ':pk': leaseIndexPk(shard), ':upper': leaseIndexUpperBound(Number.MAX_SAFE_INTEGER) },
        ConsistentRead: true,
      }),
    );
    for (const entry of out.Items ?? []) {
      const counters = entry.counters as Array<{ pk: string; sk: string }>;
      const items = await Promise.all(counters.map((c) => doc.send(new GetCommand({ TableName: ledgerTable, Key: { pk: c.pk, sk: c.sk }, ConsistentRead: true }))));
      if (items.some((o) => o.Item?.[`lease_${String(entry.leaseId)}`] !== undefined)) n++;
    }
  }
  return n;
}

/** Fail PutItem on the lease index (the admission's lease write), as a throttled or failed request would. */
function failLeasePuts(c: DynamoDBClient): () => void {
  const name = `failLeasePut${Math.random()}`;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const pk = (args.input as { Item?: { pk?: string | { S?: string } } }).Item?.pk; // marshalled or not, by middleware order
      if (context.commandName === 'PutItemCommand' && (typeof pk === 'string' ? pk : pk?.S)?.startsWith('lease#')) throw Object.assign(new Error('injected lease put failure'), { name: 'InternalServerError' });
      return next(args);
    },
    { step: 'initialize', name },
  );
  return () => c.middlewareStack.remove(name);
}

describe('Method: admit + settle (hard budget under concurrency)', () => {
  it('never records spend above the cap, and meters every admitted request, with 300 concurrent requests', async () => {
    const { apiKey, key } = await keys.create({ name: 'capped', budgets: [{ scope: 'key', period: 'month', limitUsd: 0.05, mode: 'hard' }] });
    let admitted = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 300 }, async () => {
        let a: Admission;
        try {
          a = await gate.admit(admission(config, apiKey));
        } catch (err) {
          expect(err).toBeInstanceOf(BudgetExceededError);
          refused++;
          return;
        }
        admitted++;
        await a.settle(haikuSuccess());
      }),
    );
    const c = await counter('key', key.keyId, '2026-11');
    expect(c.spent).toBeLessThanOrEqual(50_000);
    expect(c.spent).toBe(admitted * 600);
    expect(c.reserved).toBe(0);
    expect(c.committed).toBe(c.spent);
    expect(c.requests).toBe(admitted);
    expect(leaseAttributes(c)).toEqual([]);
    expect(admitted).toBeGreaterThan(40);
    expect(refused).toBe(300 - admitted);

    const recs = await records('2026-11-25', key.keyId);
    expect(recs).toHaveLength(admitted);
    expect(recs.reduce((n, r) => n + Number(r.costMicros), 0)).toBe(c.spent);
    expect(await openLeases()).toBe(0);
  });

  it('refuses with 429 insufficient_quota and charges nothing when the worst case does not fit', async () => {
    const { apiKey, key } = await keys.create({ name: 'tiny', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.0006, mode: 'hard' }] });
    const err = (await gate.admit(admission(config, apiKey)).catch((e: unknown) => e)) as BudgetExceededError;
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err.status).toBe(429);
    expect(err.toBody().error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(err.headers['x-tollgate-budget']).toBe(`key:${key.keyId}:day`);
    expect(await counter('key', key.keyId, '2026-11-25')).toEqual({});
    // A smaller max_tokens fits: 125 × 1.25 + 50 × 5 = 407 micro-dollars.
    await expect(gate.admit(admission(config, apiKey, { request: { max_tokens: 50 } }))).resolves.toBeDefined();
  });

  it('releases the other reservations when one budget refuses', async () => {
    await keys.putPolicy('team', 'poor', { budgets: [{ period: 'day', limitUsd: 0.0001, mode: 'hard' }] });
    const { apiKey, key } = await keys.create({ name: 'rich-key-poor-team', team: 'poor', budgets: [{ scope: 'key', period: 'day', limitUsd: 100, mode: 'hard' }] });
    await expect(gate.admit(admission(config, apiKey))).rejects.toBeInstanceOf(BudgetExceededError);
    const c = await counter('key', key.keyId, '2026-11-25');
    expect(c.committed).toBe(0);
    expect(c.reserved).toBe(0);
    expect(leaseAttributes(c)).toEqual([]);
  });

  it('refuses and releases everything when the lease index write fails (it runs concurrently with the reservations)', async () => {
    const { apiKey, key } = await keys.create({ name: 'lease-put-fails', rateLimits: { rpm: 10 }, budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const restore = failLeasePuts(client);
    try {
      await expect(gate.admit(admission(config, apiKey))).rejects.toMatchObject({ status: 503, code: 'store_unavailable', cause: expect.objectContaining({ message: expect.stringContaining('injected lease put failure') }) });
    } finally {
      restore();
    }
    const c = await counter('key', key.keyId, '2026-11-25');
    expect(c).toMatchObject({ committed: 0, reserved: 0 });
    expect(leaseAttributes(c)).toEqual([]);
    const window = await documentClient(client).send(new GetCommand({ TableName: tables.ledger, Key: { pk: `rl#key#${key.keyId}`, sk: '2026-11-25T10:30' }, ConsistentRead: true }));
    expect(window.Item?.requests).toBe(0); // the slot it took was given back
    await expect(gate.admit(admission(config, apiKey))).resolves.toBeDefined();
  });
});

describe('Method: settle', () => {
  it.each<[string, () => RequestOutcome, number]>([
    ['success', () => haikuSuccess(), 600],
    ['upstream_error with nothing generated', () => failure('upstream_error'), 0],
    ['client_abort before any output', () => failure('client_abort'), 0],
    ['client_abort mid-stream with estimated usage', () => ({ ...failure('client_abort'), provider: 'openai', upstreamModel: 'gpt-4o-mini', usage: usage(100, 40), usageEstimated: true }), 39],
    ['stream_error after some output', () => ({ ...failure('stream_error'), usage: usage(1000, 1000) }), 750],
  ])('releases the reservation and charges the actual cost on %s', async (_name, outcome, expected) => {
    const { apiKey, key } = await keys.create({ name: `settle-${_name}`, budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const a = await gate.admit(admission(config, apiKey));
    expect(await counter('key', key.keyId, '2026-11-25')).toMatchObject({ reserved: WORST, committed: WORST });
    await a.settle(outcome());
    await a.settle(outcome()); // the app settles once; a second call is a no-op anyway
    const c = await counter('key', key.keyId, '2026-11-25');
    expect(c).toMatchObject({ reserved: 0, spent: expected, committed: expected, requests: 1 });
    expect(leaseAttributes(c)).toEqual([]);
    const [rec] = await records('2026-11-25', key.keyId);
    expect(rec).toMatchObject({ costMicros: expected, status: outcome().status });
  });

  it('is idempotent when the same settlement write is retried', async () => {
    const doc = documentClient(client);
    const ledger = new DynamoBudgetLedger(doc, tables.ledger, { globalShards: 1 });
    const budget = { scope: 'key' as const, id: 'key_retry', period: 'day' as const, limitMicros: 10_000, mode: 'hard' as const, thresholdsPercent: [] };
    const r = await ledger.reserve(budget, '2026-11-25', 1_000, 'lease-retry');
    if (!r.ok) throw new Error('reservation failed');
    expect(await ledger.settle(r.reservation, 'lease-retry', 400)).toMatchObject({ beforeMicros: 0, afterMicros: 400 });
    expect(await ledger.settle(r.reservation, 'lease-retry', 400)).toBeUndefined();
    expect(await counter('key', 'key_retry', '2026-11-25')).toMatchObject({ spent: 400, reserved: 0, committed: 400 });
  });
});

describe('Method: settle (period rollover)', () => {
  it('charges the day and month the request was admitted in, even when it ends after midnight', async () => {
    const { apiKey, key } = await keys.create({
      name: 'night-owl',
      budgets: [
        { scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' },
        { scope: 'key', period: 'month', limitUsd: 10, mode: 'hard' },
      ],
    });
    const beforeMidnight = Date.UTC(2026, 10, 30, 23, 59, 59, 500);
    const a = await gate.admit(admission(config, apiKey, { now: beforeMidnight }));
    await a.settle(haikuSuccess(Date.UTC(2026, 11, 1, 0, 0, 3)));
    expect(await counter('key', key.keyId, '2026-11-30')).toMatchObject({ spent: 600, reserved: 0 });
    expect(await counter('key', key.keyId, '2026-11')).toMatchObject({ spent: 600, reserved: 0 });
    expect(await counter('key', key.keyId, '2026-12-01')).toEqual({});
    expect(await counter('key', key.keyId, '2026-12')).toEqual({});
    expect(await records('2026-11-30', key.keyId)).toHaveLength(1);
  });

  it('starts each day with a fresh budget', async () => {
    const { apiKey } = await keys.create({ name: 'daily', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.0007, mode: 'hard' }] });
    const a = await gate.admit(admission(config, apiKey, { now: T0 }));
    await a.settle(haikuSuccess());
    await expect(gate.admit(admission(config, apiKey, { now: T0 }))).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(gate.admit(admission(config, apiKey, { now: T0 + 86_400_000 }))).resolves.toBeDefined();
  });
});

describe('Method: sweepExpiredReservations', () => {
  it('charges a leaked reservation at its worst case after its lease expires (a lost record), and a late settlement corrects it once', async () => {
    const own = await createTestTables(client, 'sweep'); // its own tables: other tests leave open leases
    try {
      const keys2 = new KeyStore({ client, table: own.keys });
      const gate2 = createDynamoGatekeeper({ client, tables: own, config, now: () => T0, estimateInputTokens: fixedEstimate(100) });
      const read = async (keyId: string) =>
        (await documentClient(client).send(new GetCommand({ TableName: own.ledger, Key: budgetCounterKey('key', keyId, '2026-11-25'), ConsistentRead: true }))).Item ?? {};
      const { apiKey, key } = await keys2.create({ name: 'crashy', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
      await gate2.admit(admission(config, apiKey)); // never settled: the Lambda "crashed"
      const late = await gate2.admit(admission(config, apiKey)); // settles after the sweep
      expect(await read(key.keyId)).toMatchObject({ reserved: 2 * WORST });

      const leaseMs = (config.deployment.timeoutSeconds + 120) * 1_000;
      const none = { leases: 0, charged: 0, settled: 0, released: 0, lost: 0, reclaimedLeases: 0 };
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs - 1)).toEqual(none);
      // Was: released (spend given back for free). Now both are charged at the reservation, recorded `lost`.
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 1)).toEqual({ ...none, leases: 2, charged: 2, lost: 2 });
      expect(await read(key.keyId)).toMatchObject({ reserved: 0, committed: 2 * WORST, spent: 2 * WORST, requests: 2 });
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 2)).toEqual(none);

      // The late request's real record arrives (twice): the charge is corrected to the actual, once.
      await late.settle(haikuSuccess());
      await late.settle(haikuSuccess());
      const c = await read(key.keyId);
      expect(c).toMatchObject({ reserved: 0, spent: WORST + 600, committed: WORST + 600, requests: 2 });
      expect(leaseAttributes(c)).toEqual([expect.stringMatching(/^swept_/)]); // the crashed request's tombstone
      const records = await gate2.usage.requests('2026-11-25');
      expect(records.map((r) => [r.status, r.costMicros]).sort()).toEqual([['lost', WORST], ['success', 600]].sort());
      // Rollups derived from the records: the lost one at its worst case, the corrected one at its actual.
      const [row] = await gate2.usage.usageBy('key', '2026-11-25');
      expect(row).toMatchObject({ requests: 2, errors: 1, costMicros: WORST + 600 });
    } finally {
      await deleteTestTables(client, own);
    }
  });
});

describe('Method: sweepExpiredReservations (settled and orphan lease index entries)', () => {
  it('skips settled leases and orphan entries without writing to any counter, and only looks at each expiry window once', async () => {
    const own = await createTestTables(client, 'sweep2');
    try {
      const doc = documentClient(client);
      const keys2 = new KeyStore({ client, table: own.keys });
      const gate2 = createDynamoGatekeeper({ client, tables: own, config, now: () => T0, estimateInputTokens: fixedEstimate(100) });
      const ledger = new DynamoBudgetLedger(doc, own.ledger, { globalShards: config.metering.globalBudgetShards });
      const { apiKey, key } = await keys2.create({ name: 'settles', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
      await (await gate2.admit(admission(config, apiKey))).settle(haikuSuccess()); // settled: its index entry stays
      // An orphan: the index entry of an admission whose reservations never happened (refused, or the put
      // landed while the reservation failed), naming a counter that does not even exist.
      const budget = { scope: 'team' as const, id: 'ghost', period: 'day' as const, limitMicros: 1_000, mode: 'hard' as const, thresholdsPercent: [] };
      const leaseMs = (config.deployment.timeoutSeconds + 120) * 1_000;
      await ledger.openLease('orphan-1', T0 + leaseMs, ledger.counterKeys(budget, '2026-11-25').map((k) => ({ key: k, costMicros: 400 })));
      const before = (await doc.send(new GetCommand({ TableName: own.ledger, Key: budgetCounterKey('key', key.keyId, '2026-11-25'), ConsistentRead: true }))).Item;

      const counter = countDynamoRequests(client);
      try {
        const none = { leases: 0, charged: 0, settled: 0, released: 0, lost: 0, reclaimedLeases: 0 };
        // The orphan names no request (so no lost record) and a counter without its lease (no charge).
        expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 1)).toEqual({ ...none, leases: 2 });
        // 8 cursor reads + 8 Queries + the counters and records read in BatchGets; the only writes: the
        // cursor of the shards that had entries
        expect(counter.counts.byCommand.UpdateItemCommand ?? 0).toBeLessThanOrEqual(2);
        expect(counter.counts.byCommand.PutItemCommand).toBeUndefined();
        expect(counter.counts.byCommand.DeleteItemCommand).toBeUndefined();
        counter.reset();
        expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 2)).toEqual(none);
        expect(counter.counts.writes).toBe(0);
      } finally {
        counter.stop();
      }
      const after = (await doc.send(new GetCommand({ TableName: own.ledger, Key: budgetCounterKey('key', key.keyId, '2026-11-25'), ConsistentRead: true }))).Item;
      expect(after).toEqual(before);
      expect(after).toMatchObject({ spent: 600, reserved: 0, committed: 600 });
      expect((await doc.send(new GetCommand({ TableName: own.ledger, Key: budgetCounterKey('team', 'ghost', '2026-11-25'), ConsistentRead: true }))).Item).toBeUndefined();
      expect(await openLeases(own.ledger)).toBe(0);
    } finally {
      await deleteTestTables(client, own);
    }
  });
});

describe('Option: onBudgetSettled', () => {
  it('reports each settled budget with the spend its own update returned and the limit', async () => {
    const own = await createTestTables(client, 'settled');
    try {
      const keys2 = new KeyStore({ client, table: own.keys });
      await keys2.putPolicy('team', 'search', { budgets: [{ period: 'month', limitUsd: 0.01, mode: 'soft' }] });
      await keys2.putPolicy('global', '*', { budgets: [{ period: 'month', limitUsd: 1, mode: 'hard' }] });
      const events: Array<Record<string, unknown>> = [];
      const gate2 = createDynamoGatekeeper({ client, tables: own, config, now: () => T0, estimateInputTokens: fixedEstimate(100), onBudgetSettled: (e) => events.push({ ...e }) });
      const { apiKey, key } = await keys2.create({ name: 'watched', team: 'search', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
      await (await gate2.admit(admission(config, apiKey))).settle(haikuSuccess());
      await (await gate2.admit(admission(config, apiKey))).settle(haikuSuccess());
      const byBudget = (name: string) => events.filter((e) => e.budget === name);
      expect(byBudget(`key:${key.keyId}:day`)).toEqual([
        { budget: `key:${key.keyId}:day`, period: '2026-11-25', shard: undefined, spentMicros: 600, limitMicros: 1_000_000 },
        { budget: `key:${key.keyId}:day`, period: '2026-11-25', shard: undefined, spentMicros: 1_200, limitMicros: 1_000_000 },
      ]);
      expect(byBudget('team:search:month').map((e) => [e.spentMicros, e.limitMicros])).toEqual([
        [600, 10_000],
        [1_200, 10_000],
      ]);
      // Sharded global budget: the settling shard's spend and its share of the cap (4 shards here).
      const global = byBudget('global:*:month');
      expect(global).toHaveLength(2);
      for (const e of global) expect(e).toMatchObject({ period: '2026-11', shard: expect.any(Number), limitMicros: 250_000 });
      expect(global.map((e) => Number(e.spentMicros)).sort((a, b) => a - b)).toEqual(global[0].shard === global[1].shard ? [600, 1_200] : [600, 600]);
      expect(events).toHaveLength(6);
    } finally {
      await deleteTestTables(client, own);
    }
  });
});

describe('Method: admit (sharded global budget)', () => {
  it('keeps the sum of the shards within the global cap under 300 concurrent requests', async () => {
    const tables2 = await createTestTables(client, 'global');
    try {
      const keys2 = new KeyStore({ client, table: tables2.keys });
      await keys2.putPolicy('global', '*', { budgets: [{ period: 'day', limitUsd: 0.02, mode: 'hard' }] });
      const { apiKey } = await keys2.create({ name: 'anyone' });
      const gate2 = createDynamoGatekeeper({ client, tables: tables2, config, now: () => T0, estimateInputTokens: fixedEstimate(100) });
      let admitted = 0;
      await Promise.all(
        Array.from({ length: 300 }, async () => {
          const a = await gate2.admit(admission(config, apiKey)).catch(() => undefined);
          if (!a) return;
          admitted++;
          await a.settle(haikuSuccess());
        }),
      );
      const ledger = new DynamoBudgetLedger(documentClient(client), tables2.ledger, { globalShards: 4 });
      const totals = await ledger.totals({ scope: 'global', id: '*' }, '2026-11-25');
      expect(totals.spentMicros).toBeLessThanOrEqual(20_000);
      expect(totals.spentMicros).toBe(admitted * 600);
      expect(totals.reservedMicros).toBe(0);
      expect(admitted).toBeGreaterThan(20);
    } finally {
      await deleteTestTables(client, tables2);
    }
  });
});

describe('Method: settle (soft budgets)', () => {
  it('reserves nothing and records the spend', async () => {
    const { apiKey, key } = await keys.create({ name: 'soft', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.000001, mode: 'soft' }] });
    const a = await gate.admit(admission(config, apiKey));
    expect(await counter('key', key.keyId, '2026-11-25')).toEqual({});
    await a.settle(haikuSuccess());
    expect(await counter('key', key.keyId, '2026-11-25')).toMatchObject({ spent: 600, requests: 1 });
    await expect(gate.admit(admission(config, apiKey))).resolves.toBeDefined(); // over a soft budget: still admitted
  });
});
