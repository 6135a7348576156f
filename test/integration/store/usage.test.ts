import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RequestOutcome } from '../../../lambda/core/gatekeeper';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import type { KeyStore } from '../../../lambda/store/key-store';
import { countDynamoRequests } from '../../../lambda/store/request-counter';
import { UsageReader } from '../../../lambda/store/usage-store';
import type { TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, failure, fixedEstimate, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
let reader: UsageReader;
const config = testConfig();
const NOV_26 = Date.UTC(2026, 10, 26, 8, 0, 0);
const DEC_01 = Date.UTC(2026, 11, 1, 8, 0, 0);

/** 1,000 in × $0.15 + 500 out × $0.60 per M on gpt-4o-mini: 450 micro-dollars. */
const ok = (endedAt: number): RequestOutcome => success(usage(1_000, 500), endedAt);

async function run(apiKey: string, now: number, opts: { feature?: string; customer?: string; outcome?: RequestOutcome } = {}) {
  const headers: Record<string, string> = {};
  if (opts.feature) headers['x-tollgate-feature'] = opts.feature;
  if (opts.customer) headers['x-tollgate-customer'] = opts.customer;
  const a = await gate.admit(admission(config, apiKey, { now, headers }));
  await a.settle(opts.outcome ?? ok(now + 1_000));
}

let searchKey: { apiKey: string; keyId: string };
let adsKey: { apiKey: string; keyId: string };

beforeAll(async () => {
  ({ client, tables, keys, gate } = await openGatekeeperFixture('usage', { config, estimate: 100 }));
  reader = new UsageReader({ client, table: tables.ledger, globalBudgetShards: 4 });
  const s = await keys.create({ name: 'search', team: 'search', environment: 'prod', defaultFeature: 'qa', allowCustomerOverride: true });
  const a = await keys.create({ name: 'ads', team: 'ads', environment: 'staging', defaultFeature: 'copy' });
  searchKey = { apiKey: s.apiKey, keyId: s.key.keyId };
  adsKey = { apiKey: a.apiKey, keyId: a.key.keyId };

  await run(searchKey.apiKey, T0, { customer: 'acme' });
  await run(searchKey.apiKey, T0, { feature: 'rerank', customer: 'acme' });
  await run(searchKey.apiKey, NOV_26, { feature: 'rerank', customer: 'globex' });
  await run(adsKey.apiKey, T0);
  await run(adsKey.apiKey, T0, { outcome: failure('upstream_error') });
  await run(adsKey.apiKey, DEC_01);
});

afterAll(() => closeGatekeeperFixture({ client, tables }));

describe('Method: UsageReader.usageBy', () => {
  it('answers "spend by feature for 2026-11" with one Query', async () => {
    const counter = countDynamoRequests(client);
    const rows = await reader.usageBy('feature', '2026-11');
    counter.stop();
    expect(counter.counts.byCommand).toEqual({ QueryCommand: 1 });
    expect(rows.map((r) => [r.value, r.requests, r.costMicros])).toEqual([
      ['rerank', 2, 900],
      ['copy', 2, 450], // one failed request, nothing generated: counted, not charged
      ['qa', 1, 450],
    ]);
    expect(rows[0]).toMatchObject({ inputTokens: 2_000, outputTokens: 1_000, costUsd: 0.0009, errors: 0 });
    expect(rows[1].errors).toBe(1);
  });

  it('narrows to one day', async () => {
    const rows = await reader.usageBy('feature', '2026-11-26');
    expect(rows.map((r) => [r.value, r.requests])).toEqual([['rerank', 1]]);
  });

  it('rolls up by key, team, customer, model and environment too', async () => {
    expect((await reader.usageBy('team', '2026-11')).map((r) => [r.value, r.costMicros])).toEqual([
      ['search', 1350],
      ['ads', 450],
    ]);
    expect((await reader.usageBy('customer', '2026-11')).map((r) => [r.value, r.requests])).toEqual([
      ['acme', 2],
      ['-', 2],
      ['globex', 1],
    ]);
    expect((await reader.usageBy('model', '2026-12')).map((r) => [r.value, r.requests])).toEqual([['gpt-4o-mini', 1]]);
    expect((await reader.usageBy('environment', '2026-11-25')).map((r) => r.value).sort()).toEqual(['prod', 'staging']);
    const byKey = await reader.usageBy('key', '2026-11');
    expect(byKey.find((r) => r.value === searchKey.keyId)).toMatchObject({ team: 'search', keyName: 'search', requests: 3 });
  });

  it('rejects a malformed period', async () => {
    await expect(reader.usageBy('feature', 'November')).rejects.toThrow(/neither a day/);
  });
});

describe('Method: UsageReader.requests', () => {
  it('returns the per-request records of a day, without any secret', async () => {
    const recs = await reader.requests('2026-11-25', { keyId: searchKey.keyId });
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({
      keyId: searchKey.keyId,
      keyName: 'search',
      team: 'search',
      customer: 'acme',
      environment: 'prod',
      model: 'gpt-4o-mini',
      provider: 'openai',
      upstreamModel: 'gpt-4o-mini',
      inputTokens: 1_000,
      outputTokens: 500,
      costMicros: 450,
      estimated: false,
      status: 'success',
      ttftMs: 120,
      attempts: 1,
      fallback: false,
    });
    const scan = await client.send(new ScanCommand({ TableName: tables.ledger }));
    const dump = JSON.stringify(scan.Items);
    expect(dump).not.toContain(searchKey.apiKey);
    expect(dump).not.toContain(adsKey.apiKey);
  });

  it('gives request records a TTL of requestRecordTtlDays', async () => {
    const scan = await client.send(new ScanCommand({ TableName: tables.ledger, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': { S: 'req#2026-12-01' } } }));
    const ttl = Number(scan.Items?.[0]?.ttl?.N);
    expect(ttl).toBe(Math.floor((DEC_01 + 1_000) / 1_000) + 90 * 86_400);
  });
});

/** The most DynamoDB requests in flight at once: N requests in one concurrent round reach N. */
function trackInFlight(c: DynamoDBClient): { max: number; stop(): void } {
  const name = `inFlight${Math.random()}`;
  let now = 0;
  const t = {
    max: 0,
    stop: () => c.middlewareStack.remove(name),
  };
  c.middlewareStack.add(
    (next) => async (args) => {
      t.max = Math.max(t.max, ++now);
      try {
        return await next(args);
      } finally {
        now--;
      }
    },
    { step: 'initialize', name },
  );
  return t;
}

describe('DynamoDB requests per gateway request', () => {
  it('is 0 reads + 6 writes in one round to admit and 6 writes to settle with every limit and budget kind (caches warm)', async () => {
    await keys.putPolicy('team', 'metered', { rateLimits: { rpm: 1000 }, budgets: [{ period: 'month', limitUsd: 100, mode: 'hard' }] });
    await keys.putPolicy('global', '*', { budgets: [{ period: 'month', limitUsd: 1000, mode: 'hard' }] });
    const { apiKey } = await keys.create({
      name: 'metered',
      team: 'metered',
      rateLimits: { rpm: 1000, tpm: 1_000_000 },
      budgets: [{ scope: 'key', period: 'day', limitUsd: 10, mode: 'hard' }],
    });
    const lean = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100), deriveAfterSettle: false });
    await gate.derive();
    await (await lean.admit(admission(config, apiKey))).settle(ok(T0 + 1)); // warm the caches
    const counter = countDynamoRequests(client);
    const inFlight = trackInFlight(client);
    try {
      const a = await lean.admit(admission(config, apiKey));
      const admit = { ...counter.counts };
      const admitInFlight = { max: inFlight.max };
      counter.reset();
      inFlight.max = 0;
      await a.settle(ok(T0 + 1));
      const settle = { ...counter.counts };
      // admit: lease index put, key+team rate limits and key/team/global reservations, all in ONE round
      expect(admit).toMatchObject({ reads: 0, writes: 6 });
      expect(admitInFlight.max).toBe(6);
      // settle: the record (conditional put; it waits for derivation in this process's memory, no marker),
      // then 3 budget settlements (lease attributes) + 2 TPM corrections in one round
      expect(settle).toMatchObject({ reads: 0, writes: 6 });
      expect(settle.byCommand).toEqual({ PutItemCommand: 1, UpdateItemCommand: 5 });
      expect(lean.pendingDerivations()).toBe(2);
      counter.reset();
      // One full derivation pass for the two records: cursor read, 8 marker Queries (derive() also reads
      // the markers other writers left), 1 BatchGet of the records; plan write, 6 dimension rollups + 1
      // feature×model insight rollup (both records land on the same items), 1 watermark write (this
      // process's records up to the second are derived: no write per record), cursor close. More records
      // per pass cost the same reads and only the distinct rollup items they touch.
      await lean.derive();
      expect(counter.counts.byCommand).toMatchObject({ GetItemCommand: 1, QueryCommand: 8, BatchGetItemCommand: 1 });
      expect(counter.counts.byCommand.DeleteItemCommand).toBeUndefined();
      expect(counter.counts.byCommand.UpdateItemCommand).toBe(1 + 7 + 1 + 1);
      expect(lean.pendingDerivations()).toBe(0);
    } finally {
      counter.stop();
      inFlight.stop();
    }
  });

  it('is 1 write to admit and 1 write to settle for a key without limits or budgets (rollups derived off the path, in batches)', async () => {
    const { apiKey } = await keys.create({ name: 'plain' });
    await keys.deletePolicy('global', '*');
    const lean = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100), deriveAfterSettle: false, deriveIntervalMs: 1_000 });
    await (await lean.admit(admission(config, apiKey))).settle(ok(T0 + 1));
    const counter = countDynamoRequests(client);
    try {
      const a = await lean.admit(admission(config, apiKey));
      // Admission itself makes no store call: the lease index entry starts on the next turn of the event
      // loop, after the upstream call (which the pipeline makes now), and `ready` says it landed.
      expect(counter.counts).toMatchObject({ reads: 0, writes: 0 });
      await a.ready;
      // The lease index entry: every admitted request has one, so the sweeper can record it if it dies.
      expect(counter.counts).toMatchObject({ reads: 0, writes: 1 });
      counter.reset();
      await a.settle(ok(T0 + 1));
      // The record: the request path's whole write cost.
      expect(counter.counts).toMatchObject({ reads: 0, writes: 1 });
      await lean.derive();
      const before = (await reader.usageBy('key', new Date(T0).toISOString().slice(0, 10))).find((r) => r.keyName === 'plain')?.requests ?? 0;
      // Ten more settle; the scheduled pass (1 s after the first) derives them together from memory:
      // no marker Query, one BatchGet, one write per distinct rollup item and one watermark write.
      const more = await Promise.all(Array.from({ length: 10 }, () => lean.admit(admission(config, apiKey))));
      await Promise.all(more.map((m) => m.ready));
      counter.reset();
      await Promise.all(more.map((m) => m.settle(ok(T0 + 1))));
      for (let i = 0; i < 200 && lean.pendingDerivations() > 0; i++) await new Promise((r) => setTimeout(r, 50));
      await lean.derive(); // waits for the scheduled pass in flight (and scans the markers: none)
      const pass = counter.counts.byCommand;
      expect(pass.PutItemCommand).toBe(10);
      expect(pass.BatchGetItemCommand).toBe(1);
      expect(pass.QueryCommand).toBe(8); // the explicit derive() above, not the scheduled pass
      expect((await reader.usageBy('key', new Date(T0).toISOString().slice(0, 10))).find((r) => r.keyName === 'plain')?.requests).toBe(before + 10);
    } finally {
      counter.stop();
    }
  });
});

describe('Records derived from memory, when the process dies first', () => {
  it('are found by the sweeper when their leases expire and rolled up exactly once, whoever derives later', async () => {
    const { apiKey } = await keys.create({ name: 'dies-before-deriving' });
    const day = new Date(T0).toISOString().slice(0, 10);
    const requestsOf = async () => (await reader.usageBy('key', day)).find((r) => r.keyName === 'dies-before-deriving')?.requests ?? 0;
    // The process that dies: settles three requests, its scheduled pass never comes.
    const dying = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100), deriveAfterSettle: false, deriveIntervalMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await (await dying.admit(admission(config, apiKey))).settle(ok(T0 + 1));
    expect(dying.pendingDerivations()).toBe(3);
    // Another process's derivation pass knows nothing of them (no marker was written).
    const survivor = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100) });
    await survivor.derive();
    expect(await requestsOf()).toBe(0);
    // The sweeper, once the requests' leases expired: their records are real and underived, so it marks them.
    await survivor.sweepExpiredReservations(T0 + survivor.leaseMs + 1_000);
    expect(await requestsOf()).toBe(3);
    // Sweeping again, and the "dead" process waking up to run its pass, change nothing.
    await survivor.sweepExpiredReservations(T0 + survivor.leaseMs + 2_000);
    await dying.derive();
    expect(await requestsOf()).toBe(3);
  });
});

describe('Method: deriveIfDue (the Lambda handler, after each invocation)', () => {
  it('runs a pass only once enough records wait, or the oldest has waited long enough', async () => {
    const { apiKey } = await keys.create({ name: 'due' });
    const day = new Date(T0).toISOString().slice(0, 10);
    const requestsOf = async () => (await reader.usageBy('key', day)).find((r) => r.keyName === 'due')?.requests ?? 0;
    const lean = createDynamoGatekeeper({ client, tables, config, now: () => T0, estimateInputTokens: fixedEstimate(100), deriveAfterSettle: false, deriveIntervalMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await (await lean.admit(admission(config, apiKey))).settle(ok(T0 + 1));
    expect(await lean.deriveIfDue(4, 60_000)).toBe(false);
    expect(await requestsOf()).toBe(0);
    expect(await lean.deriveIfDue(3, 60_000)).toBe(true);
    expect(await requestsOf()).toBe(3);
    await (await lean.admit(admission(config, apiKey))).settle(ok(T0 + 1));
    await new Promise((r) => setTimeout(r, 30));
    expect(await lean.deriveIfDue(100, 10)).toBe(true); // the oldest waited over 10 ms
    expect(await requestsOf()).toBe(4);
    expect(lean.pendingDerivations()).toBe(0);
  });
});
