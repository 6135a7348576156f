import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BudgetExceededError } from '../../../lambda/core/errors';
import type { Admission, RequestOutcome } from '../../../lambda/core/gatekeeper';
import { DynamoBudgetLedger } from '../../../lambda/store/budget-ledger';
import { documentClient } from '../../../lambda/store/dynamo';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey, leaseIndexPk } from '../../../lambda/store/item-keys';
import { KeyStore } from '../../../lambda/store/key-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';
import { admission, failure, fixedEstimate, success, T0, testConfig, usage } from './fixtures';

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
  client = testDynamoClient();
  tables = await createTestTables(client, 'budgets');
  keys = new KeyStore({ client, table: tables.keys });
  gate = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100) });
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

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

async function openLeases(): Promise<number> {
  const doc = documentClient(client);
  let n = 0;
  for (let shard = 0; shard < 8; shard++) {
    const out = await doc.send(new QueryCommand({ TableName: tables.ledger, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': leaseIndexPk(shard) }, ConsistentRead: true }));
    n += out.Items?.length ?? 0;
  }
  return n;
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
  it('releases a leaked reservation after its lease expires, and a late settlement still counts once', async () => {
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
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs - 1)).toEqual({ leases: 0, released: 0 });
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 1)).toEqual({ leases: 2, released: 2 });
      expect(await read(key.keyId)).toMatchObject({ reserved: 0, committed: 0 });
      expect(await gate2.sweepExpiredReservations(T0 + leaseMs + 2)).toEqual({ leases: 0, released: 0 });

      await late.settle(haikuSuccess());
      await late.settle(haikuSuccess());
      const c = await read(key.keyId);
      expect(c).toMatchObject({ reserved: 0, spent: 600, committed: 600, requests: 1 });
      expect(leaseAttributes(c)).toEqual([expect.stringMatching(/^swept_/)]); // the crashed request's tombstone
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
