/**
 * The deriver's proof of derivation for records derived from memory: a per-process watermark written once
 * per pass instead of `dv` on every record (usage-deriver.ts, point 4). Two gatekeepers on one store act as
 * two processes; a request hook on one process's client holds or fails chosen DynamoDB calls, to put the
 * other process's sweeper and deriver exactly in the windows that matter.
 */
import { GetItemCommand, PutItemCommand, QueryCommand as RawQueryCommand, ScanCommand, type DynamoDBClient, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TollgateConfig } from '../../../lambda/core/config';
import { buildUsageRecord, lostUsageRecord, type UsageRecord } from '../../../lambda/core/metering';
import { documentClient } from '../../../lambda/store/dynamo';
import { PutCommand } from '../../../lambda/store/lean-commands';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { DERIVE_SHARDS, deriveMarkerPk, deriveWatermarkKey } from '../../../lambda/store/item-keys';
import { CLAIM_FREE_MS, CLAIM_RESOLVE_MS, PLAN_BYTES, UsageDeriver } from '../../../lambda/store/usage-deriver';
import type { KeyStore } from '../../../lambda/store/key-store';
import { UsageReader, UsageRecorder } from '../../../lambda/store/usage-store';
import { testDynamoClient, type TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, fixedEstimate, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let reader: UsageReader;
const config: TollgateConfig = testConfig();
const DAY = new Date(T0).toISOString().slice(0, 10);
const opened: DynamoDBClient[] = [];

beforeAll(async () => {
  ({ client, tables, keys } = await openGatekeeperFixture('derive_wm', { config, estimate: 100 }));
  reader = new UsageReader({ client, table: tables.ledger, globalBudgetShards: 4 });
});

afterAll(async () => {
  for (const c of opened) c.destroy();
  await closeGatekeeperFixture({ client, tables });
});

/** A DynamoDB request as the hook sees it: command name, and the pk of the item it names. */
interface Seen {
  command: string;
  pk: string | undefined;
  input: Record<string, unknown>;
}

function pkOf(input: Record<string, unknown>): string | undefined {
  const k = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  const pk = k?.pk;
  if (typeof pk === 'string') return pk;
  return (pk as { S?: string } | undefined)?.S;
}

/**
 * A client of its own (one "process"), with a hook on every request: `before` may hold a request (return a
 * promise) or fail it; `after` may fail it once DynamoDB has answered (the answer lost on the way back).
 */
function processClient(hook: { before?: (s: Seen) => Promise<void> | void; after?: (s: Seen) => void } = {}): { client: DynamoDBClient; seen: Seen[] } {
  const c = testDynamoClient();
  opened.push(c);
  const seen: Seen[] = [];
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const s: Seen = { command: context.commandName ?? 'unknown', pk: pkOf(input), input };
      seen.push(s);
      await hook.before?.(s);
      const out = await next(args);
      hook.after?.(s);
      return out;
    },
    { step: 'initialize', name: `testHook${Math.random()}` },
  );
  return { client: c, seen };
}

/**
 * A gatekeeper whose clock stands at `at`. Each test admits at its own hour of the same day, later in file order: the sweeper's
 * cursor moves past every lease it handled, so a later test's leases must expire later.
 */
function gatekeeper(c: DynamoDBClient, at: number, opts: { settleRetryMs?: number } = {}): DynamoGatekeeper {
  // No scheduled pass during the test (an hour away): passes run when the test says.
  return createDynamoGatekeeper({ client: c, tables, config, now: () => at, estimateInputTokens: fixedEstimate(100), deriveAfterSettle: false, deriveIntervalMs: 3_600_000, ...opts });
}

const HOUR = 3_600_000;

/** A promise the test resolves by hand, and one that says when a held request arrived. */
function latch(): { hold: Promise<void>; release(): void; reached: Promise<void>; arrive(): void } {
  let release!: () => void;
  let arrive!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (arrive = r));
  return { hold, release, reached, arrive };
}

async function requestsOf(keyName: string): Promise<number> {
  return (await reader.usageBy('key', DAY)).find((r) => r.keyName === keyName)?.requests ?? 0;
}

async function costOf(keyName: string): Promise<number> {
  return (await reader.usageBy('key', DAY)).find((r) => r.keyName === keyName)?.costMicros ?? 0;
}

/** The records of one key, as stored (bookkeeping attributes included). */
async function recordItems(keyId: string): Promise<Array<Record<string, unknown>>> {
  const out = await client.send(
    new ScanCommand({
      TableName: tables.ledger,
      FilterExpression: 'begins_with(pk, :p) AND keyId = :k',
      ExpressionAttributeValues: { ':p': { S: 'req#' }, ':k': { S: keyId } },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((i) => unmarshall(i));
}

async function markerCount(): Promise<number> {
  let n = 0;
  for (let s = 0; s < DERIVE_SHARDS; s++) {
    const out = await client.send(new RawQueryCommand({ TableName: tables.ledger, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: deriveMarkerPk(s) } }, ConsistentRead: true }));
    n += out.Count ?? 0;
  }
  return n;
}

async function settleOne(gate: DynamoGatekeeper, apiKey: string, at: number): Promise<void> {
  await (await gate.admit(admission(config, apiKey, { now: at }))).settle(success(usage(1_000, 500), at + 1));
}

/** Past every lease admitted at `at`. */
const afterLeases = (gate: DynamoGatekeeper, at: number) => at + gate.leaseMs + 1_000;

describe('Derivation from memory: the cost', () => {
  it('writes one watermark per pass, not one update per record', async () => {
    const at = T0;
    const { apiKey, key } = await keys.create({ name: 'wm-cost' });
    const p = processClient();
    const gate = gatekeeper(p.client, at);
    for (let i = 0; i < 20; i++) await settleOne(gate, apiKey, at);
    expect(gate.pendingDerivations()).toBe(20);
    p.seen.length = 0;
    await gate.derive();
    const updates = p.seen.filter((s) => s.command === 'UpdateItemCommand');
    // No write names a record: the 20 records are proven derived by one watermark write.
    expect(updates.filter((s) => s.pk?.startsWith('req#'))).toHaveLength(0);
    expect(updates.filter((s) => s.pk === 'derive#wm')).toHaveLength(1);
    // Plan, 6 dimension rollups + 1 insight rollup (all 20 records land on the same items), watermark, cursor close.
    expect(updates).toHaveLength(1 + 7 + 1 + 1);
    expect(await requestsOf('wm-cost')).toBe(20);
    const items = await recordItems(key.keyId);
    expect(items).toHaveLength(20);
    for (const item of items) expect(item.dv).toBeUndefined();
    // And the sweeper, once their leases expired, sees them derived: no marker, nothing counted twice.
    const o = processClient();
    const other = gatekeeper(o.client, at);
    await other.sweepExpiredReservations(afterLeases(other, at));
    expect(o.seen.filter((s) => s.command === 'PutItemCommand' && s.pk?.startsWith('derive#'))).toHaveLength(0);
    expect(await markerCount()).toBe(0);
    expect(await requestsOf('wm-cost')).toBe(20);
  });
});

/** The plan write of a pass: the conditional update that puts a plan on the cursor. */
const isPlanWrite = (s: Seen) => s.command === 'UpdateItemCommand' && s.pk === 'derive#cursor' && String(s.input.UpdateExpression).includes(':plan');

describe('Derivation from memory: batches sized by the plan, not by a record count', () => {
  it('hundreds of one key\'s records are derived in one pass: one plan, one update per shared target', async () => {
    const at = T0 + 7 * HOUR;
    const { apiKey } = await keys.create({ name: 'wm-one-pass' });
    const p = processClient();
    const gate = gatekeeper(p.client, at);
    await Promise.all(Array.from({ length: 150 }, () => settleOne(gate, apiKey, at)));
    expect(gate.pendingDerivations()).toBe(150);
    p.seen.length = 0;
    await gate.derive();
    expect(p.seen.filter(isPlanWrite)).toHaveLength(1);
    // Plan, 6 dimension rollups + 1 insight rollup, watermark, cursor close: as for 20 records.
    expect(p.seen.filter((s) => s.command === 'UpdateItemCommand')).toHaveLength(1 + 7 + 1 + 1);
    expect(gate.pendingDerivations()).toBe(0);
    expect(await requestsOf('wm-one-pass')).toBe(150);
    expect(await costOf('wm-one-pass')).toBe(150 * 450);
  });

  it('a batch whose plan would be too big for one item is cut: every plan fits, every record is counted once', async () => {
    const at = T0 + 8 * HOUR;
    const { apiKey } = await keys.create({ name: 'wm-cut-plan', allowCustomerOverride: true });
    const p = processClient();
    const gate = gatekeeper(p.client, at);
    // Each record its own customer and feature (long names): new target items with every record.
    const n = 400;
    const name = (kind: string, i: number) => `${kind}-${String(i).padStart(4, '0')}-${'x'.repeat(110)}`;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const headers = { 'x-tollgate-customer': name('customer', i + j), 'x-tollgate-feature': name('feature', i + j) };
          await (await gate.admit(admission(config, apiKey, { now: at, headers }))).settle(success(usage(1_000, 500), at + 1));
        }),
      );
    }
    expect(gate.pendingDerivations()).toBe(n);
    p.seen.length = 0;
    await gate.derive();
    const plans = p.seen.filter(isPlanWrite).map((s) => JSON.stringify((s.input.ExpressionAttributeValues as Record<string, unknown>)[':plan']).length);
    expect(plans.length).toBeGreaterThan(1);
    for (const bytes of plans) expect(bytes).toBeLessThanOrEqual(PLAN_BYTES);
    expect(gate.pendingDerivations()).toBe(0);
    expect(await requestsOf('wm-cut-plan')).toBe(n);
    expect(await costOf('wm-cut-plan')).toBe(n * 450);
    const customers = (await reader.usageBy('customer', DAY)).filter((r) => r.value.startsWith('customer-'));
    expect(customers).toHaveLength(n);
    for (const c of customers) expect(c.requests).toBe(1);
  });
});

describe('Derivation from memory, exactly once when other processes sweep and derive', () => {
  it('a pass held before writing its plan, while another process marks and derives the same records: its plan is refused and it finds them derived', async () => {
    const at = T0 + HOUR;
    const { apiKey } = await keys.create({ name: 'wm-held-plan' });
    const hold = latch();
    const p = processClient({
      before: (s) => {
        if (!isPlanWrite(s)) return;
        hold.arrive();
        return hold.hold;
      },
    });
    const a = gatekeeper(p.client, at);
    for (let i = 0; i < 3; i++) await settleOne(a, apiKey, at);
    const aPass = a.derive(); // reads the cursor and the records, then waits at its plan write
    await hold.reached;
    // Another process's sweeper: the leases expired, the records are underived (no watermark yet): marked,
    // and derived from the markers.
    const b = gatekeeper(processClient().client, at);
    await b.sweepExpiredReservations(afterLeases(b, at));
    expect(await requestsOf('wm-held-plan')).toBe(3);
    hold.release();
    await aPass;
    expect(await requestsOf('wm-held-plan')).toBe(3);
    expect(a.pendingDerivations()).toBe(0);
    // The process goes on deriving from memory; nothing it did is counted again.
    for (let i = 0; i < 2; i++) await settleOne(a, apiKey, at);
    await a.derive();
    await b.derive();
    expect(await requestsOf('wm-held-plan')).toBe(5);
    expect(await costOf('wm-held-plan')).toBe(5 * 450);
  });

  it('a marker pass of another process held before writing its plan, while the writing process derives the records from memory: that plan is refused, the next finds them derived', async () => {
    const at = T0 + 2 * HOUR;
    const { apiKey } = await keys.create({ name: 'wm-held-marker-plan' });
    const a = gatekeeper(processClient().client, at);
    for (let i = 0; i < 3; i++) await settleOne(a, apiKey, at);
    const hold = latch();
    let held = false;
    const b = gatekeeper(
      processClient({
        before: (s) => {
          if (!isPlanWrite(s) || held) return;
          held = true;
          hold.arrive();
          return hold.hold;
        },
      }).client,
      at,
    );
    // B's sweeper marks the three records (no watermark yet); its pass reads them as underived, then waits.
    const bSweep = b.sweepExpiredReservations(afterLeases(b, at));
    await hold.reached;
    await a.derive(); // A plans, applies and writes its watermark meanwhile
    expect(await requestsOf('wm-held-marker-plan')).toBe(3);
    hold.release();
    await bSweep;
    await b.derive();
    expect(await requestsOf('wm-held-marker-plan')).toBe(3);
    expect(await costOf('wm-held-marker-plan')).toBe(3 * 450);
    expect(await markerCount()).toBe(0);
  });

  it('a process that dies after applying its targets and before its watermark write: the next pass re-applies the plan, watermark included', async () => {
    const at = T0 + 3 * HOUR;
    const { apiKey } = await keys.create({ name: 'wm-dies-mid-apply' });
    const dead = latch();
    const p = processClient({
      before: (s) => {
        if (s.command !== 'UpdateItemCommand' || s.pk !== 'derive#wm') return;
        dead.arrive();
        return dead.hold; // never answered while the test looks: the process is gone
      },
    });
    const a = gatekeeper(p.client, at);
    for (let i = 0; i < 3; i++) await settleOne(a, apiKey, at);
    const aPass = a.derive();
    await dead.reached;
    // Targets applied, the plan still open on the cursor, no watermark.
    expect(await requestsOf('wm-dies-mid-apply')).toBe(3);
    const b = gatekeeper(processClient().client, at);
    // The sweeper finds the records underived (no watermark) and marks them; the deriving pass first
    // re-applies the open plan (targets: already done; the watermark: written), then finds the markers'
    // records derived.
    await b.sweepExpiredReservations(afterLeases(b, at));
    expect(await requestsOf('wm-dies-mid-apply')).toBe(3);
    expect(await markerCount()).toBe(0);
    // Swept again later (as after a restart), and another pass: nothing moves.
    await b.sweepExpiredReservations(afterLeases(b, at) + 60_000);
    await b.derive();
    expect(await requestsOf('wm-dies-mid-apply')).toBe(3);
    expect(await costOf('wm-dies-mid-apply')).toBe(3 * 450);
    dead.release(); // let the hung call finish so the test ends cleanly: its writes are refused or no-ops
    await aPass;
    expect(await requestsOf('wm-dies-mid-apply')).toBe(3);
  });

  it('a commit whose put is slow holds the watermark back: the records above it get dv, and all are derived once', async () => {
    const at = T0 + 4 * HOUR;
    const { apiKey, key } = await keys.create({ name: 'wm-slow-commit' });
    const slow = latch();
    let first = true;
    const p = processClient({
      before: (s) => {
        if (s.command !== 'PutItemCommand' || !s.pk?.startsWith('req#') || !first) return;
        first = false;
        slow.arrive();
        return slow.hold;
      },
    });
    const a = gatekeeper(p.client, at);
    const slowSettle = settleOne(a, apiKey, at); // claims number 1; its put waits
    await slow.reached;
    for (let i = 0; i < 2; i++) await settleOne(a, apiKey, at); // numbers 2 and 3 land
    await a.derive();
    expect(await requestsOf('wm-slow-commit')).toBe(2);
    // Number 1 is unresolved: the watermark cannot cover 2 and 3, so they carry dv.
    let items = await recordItems(key.keyId);
    expect(items.map((i) => [i.dn, i.dv]).sort()).toEqual([
      [2, 1],
      [3, 1],
    ]);
    slow.release();
    await slowSettle;
    await a.derive();
    expect(await requestsOf('wm-slow-commit')).toBe(3);
    items = await recordItems(key.keyId);
    expect(items.find((i) => i.dn === 1)?.dv).toBeUndefined(); // covered by the watermark
    const b = gatekeeper(processClient().client, at);
    await b.sweepExpiredReservations(afterLeases(b, at));
    expect(await markerCount()).toBe(0);
    expect(await requestsOf('wm-slow-commit')).toBe(3);
    expect(await costOf('wm-slow-commit')).toBe(3 * 450);
  });

  it('a put that landed but whose answer was lost: the retry finds its own number and derives it from memory, once', async () => {
    const at = T0 + 5 * HOUR;
    const { apiKey, key } = await keys.create({ name: 'wm-lost-answer' });
    const losing = losesFirstAnswer();
    const p = processClient(losing);
    const a = gatekeeper(p.client, at, { settleRetryMs: 60_000 });
    await settleOne(a, apiKey, at); // first put lands, its answer is lost; the retry's put is refused
    expect(losing.fired()).toBe(true);
    expect(a.pendingDerivations()).toBe(1);
    await settleOne(a, apiKey, at);
    await a.derive();
    expect(await requestsOf('wm-lost-answer')).toBe(2);
    // Both covered by the watermark: no dv, no marker.
    for (const item of await recordItems(key.keyId)) expect(item.dv).toBeUndefined();
    const b = gatekeeper(processClient().client, at);
    await b.sweepExpiredReservations(afterLeases(b, at));
    expect(await markerCount()).toBe(0);
    expect(await requestsOf('wm-lost-answer')).toBe(2);
  });

  it('a put that landed but whose answer was lost, never retried: the records after it get dv, the sweeper marks it, all derived once', async () => {
    const at = T0 + 6 * HOUR;
    const { apiKey, key } = await keys.create({ name: 'wm-never-retried' });
    const losing = losesFirstAnswer();
    const p = processClient(losing);
    // No retry, no outbox: the settlement fails; the record is in the table, this process cannot know.
    const a = gatekeeper(p.client, at, { settleRetryMs: 0 });
    await expect(settleOne(a, apiKey, at)).rejects.toThrow('socket hang up');
    expect(a.pendingDerivations()).toBe(0);
    for (let i = 0; i < 2; i++) await settleOne(a, apiKey, at);
    await a.derive();
    expect(await requestsOf('wm-never-retried')).toBe(2);
    const items = await recordItems(key.keyId);
    expect(items.map((i) => [i.dn, i.dv ?? 0]).sort()).toEqual([
      [1, 0],
      [2, 1],
      [3, 1],
    ]);
    const b = gatekeeper(processClient().client, at);
    await b.sweepExpiredReservations(afterLeases(b, at));
    expect(await requestsOf('wm-never-retried')).toBe(3);
    await a.derive();
    await b.sweepExpiredReservations(afterLeases(b, at) + 60_000);
    expect(await requestsOf('wm-never-retried')).toBe(3);
    expect(await costOf('wm-never-retried')).toBe(3 * 450);
  });
});

/** A deriver and its recorder (one process's), on a client of its own, with a clock the test moves. */
function deriverProcess(c: DynamoDBClient): { deriver: UsageDeriver; recorder: UsageRecorder; clock: { now: number } } {
  const clock = { now: T0 };
  const doc = documentClient(c);
  const deriver = new UsageDeriver(doc, tables.ledger, { globalShards: 1, now: () => clock.now });
  return { deriver, recorder: new UsageRecorder(doc, tables.ledger, 90, deriver), clock };
}

let recordSeq = 0;
function realRecord(keyName: string, costMicros: number, requestId = `req_real_${recordSeq++}`): UsageRecord {
  return buildUsageRecord({
    requestId,
    admittedAt: T0 + 6 * HOUR,
    attribution: { keyId: `kid-${keyName}`, keyName },
    model: 'gpt-4o-mini',
    outcome: success(usage(1_000, 500), T0 + 6 * HOUR + 1_000),
    costMicros,
    unpriced: false,
  });
}

async function watermarkOf(processId: string): Promise<number | undefined> {
  const { pk, sk } = deriveWatermarkKey(processId);
  const out = await client.send(new GetItemCommand({ TableName: tables.ledger, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }));
  return out.Item ? (unmarshall(out.Item).wm as number) : undefined;
}

/** Fails the first record put of this process once DynamoDB has written it (the answer lost on the way back). */
function losesFirstAnswer(): { after: (s: Seen) => void; fired: () => boolean } {
  let done = false;
  return {
    after: (s) => {
      if (s.command !== 'PutItemCommand' || !s.pk?.startsWith('req#') || done) return;
      done = true;
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    },
    fired: () => done,
  };
}

describe('A claimed number whose put failed and was never retried', () => {
  it('is freed once the put can no longer land (no record carries it): the watermark moves on', async () => {
    let refuse = true;
    const a = deriverProcess(
      processClient({
        before: (s) => {
          if (s.command !== 'PutItemCommand' || !s.pk?.startsWith('req#') || !refuse) return;
          refuse = false;
          throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkError' });
        },
      }).client,
    );
    await expect(a.recorder.commit(realRecord('claim-free', 100))).rejects.toThrow('ECONNREFUSED'); // number 1: never written
    await a.recorder.commit(realRecord('claim-free', 100)); // number 2
    await a.deriver.kick();
    expect(await watermarkOf(a.deriver.processId)).toBeUndefined(); // 1 unresolved: 2 carries dv instead
    a.clock.now += CLAIM_RESOLVE_MS;
    await a.recorder.commit(realRecord('claim-free', 100)); // number 3
    await a.deriver.kick();
    // Looked up, no item: the put might still land, so number 1 stays unresolved (3 carries dv).
    expect(await watermarkOf(a.deriver.processId)).toBeUndefined();
    a.clock.now += CLAIM_FREE_MS - CLAIM_RESOLVE_MS;
    await a.recorder.commit(realRecord('claim-free', 100)); // number 4
    await a.deriver.kick();
    expect(await watermarkOf(a.deriver.processId)).toBe(4);
    const rows = (await reader.usageBy('key', new Date(T0 + 6 * HOUR).toISOString().slice(0, 10))).find((r) => r.keyName === 'claim-free');
    expect(rows?.requests).toBe(3);
  });

  it('whose put lands late, after it was looked up and not found: kept, then derived once a later lookup finds it', async () => {
    let stuck: Record<string, unknown> | undefined;
    const a = deriverProcess(
      processClient({
        before: (s) => {
          if (s.command !== 'PutItemCommand' || !s.pk?.startsWith('req#') || stuck) return;
          // The put is stuck on the way (this process gives up on it); the test delivers it later.
          stuck = s.input;
          throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        },
      }).client,
    );
    await expect(a.recorder.commit(realRecord('claim-late', 100))).rejects.toThrow('socket hang up'); // number 1
    a.clock.now += CLAIM_RESOLVE_MS;
    await a.deriver.kick(); // looked up: no item yet, so number 1 is kept
    expect(await watermarkOf(a.deriver.processId)).toBeUndefined();
    // The stuck put lands now, carrying number 1.
    const input = stuck as { TableName: string; Item: Record<string, unknown> };
    if (typeof input.Item.pk === 'string') await documentClient(client).send(new PutCommand(input));
    else await client.send(new PutItemCommand(input as unknown as PutItemCommandInput));
    await a.recorder.commit(realRecord('claim-late', 100)); // number 2
    await a.deriver.kick(); // finds number 1 on the item: derived from memory, then the watermark passes both
    expect(await watermarkOf(a.deriver.processId)).toBe(2);
    const row = (await reader.usageBy('key', DAY)).find((r) => r.keyName === 'claim-late');
    expect(row?.requests).toBe(2);
  });

  it('whose put landed and was then replaced by the real record (v 2 carries the number): derived once, the real cost only', async () => {
    const a = deriverProcess(processClient(losesFirstAnswer()).client);
    const b = deriverProcess(processClient().client);
    const real = realRecord('claim-replaced', 450);
    // A's sweeper writes the lost record (worst case 5,000 µ$); the put lands, its answer is lost.
    const lost = lostUsageRecord({ requestId: real.requestId, admittedAt: real.admittedAt, day: real.day, keyId: real.keyId, keyName: real.keyName, model: real.model, reservedMicros: 5_000 }, real.endedAt);
    await expect(a.recorder.commit(lost)).rejects.toThrow('socket hang up');
    // The real record arrives in B: it replaces the lost one (version 2, carrying A's number) and waits in B's queue.
    expect(await b.recorder.commit(real)).toBe('corrected');
    a.clock.now += CLAIM_RESOLVE_MS;
    await a.deriver.kick(); // A looks its stale claim up: the item carries its number, so A derives it
    await a.recorder.commit(realRecord('claim-replaced', 450)); // and moves its watermark past it
    await a.deriver.kick();
    expect(await watermarkOf(a.deriver.processId)).toBe(2);
    await b.deriver.kick();
    const row = (await reader.usageBy('key', real.day)).find((r) => r.keyName === 'claim-replaced');
    expect(row?.requests).toBe(2);
    expect(row?.costMicros).toBe(2 * 450);
  });
});

describe('A lost record replaced by the real one', () => {
  it('keeps the dv a derivation pass set between the recorder’s read and its put: the lost part is counted once', async () => {
    const { deriver } = deriverProcess(processClient().client);
    // Recorders without a deriver of their own: their versions go through markers and `dv` only.
    const plainRecorder = (c: DynamoDBClient) => new UsageRecorder(documentClient(c), tables.ledger, 90);
    const real = realRecord('replace-race', 450);
    const lost = lostUsageRecord({ requestId: real.requestId, admittedAt: real.admittedAt, day: real.day, keyId: real.keyId, keyName: real.keyName, model: real.model, reservedMicros: 5_000 }, real.endedAt);
    expect(await plainRecorder(processClient().client).commit(lost)).toBe('created');
    let raced = false;
    const racing = processClient({
      before: async (s) => {
        const v = (s.input.Item as { v?: unknown } | undefined)?.v;
        if (raced || s.command !== 'PutItemCommand' || !s.pk?.startsWith('req#') || (v !== 2 && (v as { N?: string } | undefined)?.N !== '2')) return;
        raced = true;
        await deriver.kick(); // derives the lost record (dv = 1) after the recorder read it, before its put
      },
    });
    expect(await plainRecorder(racing.client).commit(real)).toBe('corrected');
    expect(raced).toBe(true);
    await deriver.kick();
    const row = (await reader.usageBy('key', real.day)).find((r) => r.keyName === 'replace-race');
    expect(row?.requests).toBe(1);
    expect(row?.costMicros).toBe(450);
  });
});


describe('A plan write that landed though its answer was lost', () => {
  it('is re-applied once by the next pass, which then writes no empty plan for the records it already derived', async () => {
    let lose = true;
    const cursorUpdates: string[] = [];
    const c = processClient({
      after: (s) => {
        if (s.command !== 'UpdateItemCommand' || s.pk !== 'derive#cursor') return;
        cursorUpdates.push(String(s.input.UpdateExpression));
        if (!lose || !String(s.input.UpdateExpression).includes('#plan = :plan')) return;
        lose = false;
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      },
    }).client;
    const a = deriverProcess(c);
    for (let i = 0; i < 3; i++) await a.recorder.commit(realRecord('plan-lost', 100));
    await expect(a.deriver.kick()).rejects.toThrow('socket hang up'); // the plan is on the cursor; this process does not know
    expect(a.deriver.queued).toBe(3);
    cursorUpdates.length = 0;
    await a.deriver.kick(); // re-applies the open plan (watermark included), then finds the queue derived
    expect(a.deriver.queued).toBe(0);
    expect(cursorUpdates).toEqual(['SET seq = :seq REMOVE #plan, planSeq']); // the close only: no second, empty plan
    expect(await watermarkOf(a.deriver.processId)).toBe(3);
    const row = (await reader.usageBy('key', DAY)).find((r) => r.keyName === 'plan-lost');
    expect(row?.requests).toBe(3);
  });
});
