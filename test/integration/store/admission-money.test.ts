/**
 * Admission money paths of the DynamoDB gatekeeper (lambda/store/dynamo-gatekeeper.ts, budget-ledger.ts,
 * rate-limiter.ts) against DynamoDB Local: ambiguous write failures (the write landed, the response was
 * lost) and `n` choices in the worst case. (From a review; the failure notes describe the fixed bugs.)
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../../lambda/store/dynamo';
import type { DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey } from '../../../lambda/store/item-keys';
import type { KeyStore } from '../../../lambda/store/key-store';
import { DynamoRateLimiter } from '../../../lambda/store/rate-limiter';
import { BudgetExceededError, RateLimitError } from '../../../lambda/core/errors';
import type { TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, loseResponses, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
const config = testConfig();

beforeAll(async () => {
  ({ client, tables, keys, gate } = await openGatekeeperFixture('admission-money', { config, estimate: 100 }));
});

afterAll(() => closeGatekeeperFixture({ client, tables }));

async function item(key: { pk: string; sk: string }) {
  const out = await documentClient(client).send(new GetCommand({ TableName: tables.ledger, Key: key, ConsistentRead: true }));
  return out.Item ?? {};
}

/** The write fails before it is sent (it never lands), every time. */
function failWrites(c: DynamoDBClient, match: (expr: string) => boolean): () => void {
  const name = `fail${Math.random()}`;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const expr = String((args.input as { UpdateExpression?: string }).UpdateExpression ?? '');
      if (context.commandName === 'UpdateItemCommand' && match(expr)) throw Object.assign(new Error('injected: write failed'), { name: 'ValidationException' });
      return next(args);
    },
    { step: 'initialize', name },
  );
  return () => c.middlewareStack.remove(name);
}

/** The first matching write lands but its response is lost INSIDE the SDK's retry loop, so the SDK retries it. */
function loseFirstResponseAndRetry(c: DynamoDBClient, match: (expr: string) => boolean): () => void {
  const name = `retry${Math.random()}`;
  let lost = false;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const expr = String((args.input as { UpdateExpression?: string }).UpdateExpression ?? '');
      if (!lost && context.commandName === 'UpdateItemCommand' && match(expr)) {
        lost = true;
        throw Object.assign(new Error('injected: transient, retried'), { name: 'TimeoutError', $retryable: {} });
      }
      return out;
    },
    { step: 'deserialize', name, priority: 'high' },
  );
  return () => {
    c.middlewareStack.remove(name);
    if (!lost) throw new Error('no write matched: nothing was retried');
  };
}

describe('refused admission after an ambiguous write failure', () => {
  it('a reservation that landed but whose response was lost is released at once, conditionally', async () => {
    const { apiKey, key } = await keys.create({ name: 'ambiguous-reserve-released', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const restore = loseResponses(client, (e) => e.includes('SET #lease = :cost'));
    try {
      await expect(gate.admit(admission(config, apiKey))).rejects.toMatchObject({ status: 503, code: 'store_unavailable', cause: expect.objectContaining({ message: expect.stringContaining('injected') }) });
    } finally {
      restore();
    }
    const counterKey = budgetCounterKey('key', key.keyId, '2026-11-25');
    expect(await item(counterKey)).toMatchObject({ reserved: 0, committed: 0 });
    expect(Object.keys(await item(counterKey)).filter((a) => a.startsWith('lease_'))).toEqual([]);
  });

  it('... and if that release fails too, the lease index entry stays and the sweeper releases it', async () => {
    const { apiKey, key } = await keys.create({ name: 'ambiguous-reserve', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const restore = loseResponses(client, (e) => e.includes('SET #lease = :cost'));
    const restoreRelease = failWrites(client, (e) => e.startsWith('REMOVE #lease ADD committed :neg'));
    try {
      await expect(gate.admit(admission(config, apiKey))).rejects.toMatchObject({ status: 503, code: 'store_unavailable', cause: expect.objectContaining({ message: expect.stringContaining('injected') }) });
    } finally {
      restore();
      restoreRelease();
    }
    const counterKey = budgetCounterKey('key', key.keyId, '2026-11-25');
    expect((await item(counterKey)).reserved).toBeGreaterThan(0); // the write did land

    // Long after every lease expired, the sweeper runs: it must give the reservation back.
    await gate.sweepExpiredReservations(T0 + 86_400_000);
    // Was failing: the refusal path deleted the lease index entry (closeLease), the only pointer to this
    // reservation, so it stayed reserved for the rest of the period.
    expect(await item(counterKey)).toMatchObject({ reserved: 0, committed: 0 });
  });

  it('a rate-limit slot that landed but whose response was lost is given back when the request is refused', async () => {
    const { apiKey, key } = await keys.create({ name: 'ambiguous-slot', rateLimits: { rpm: 2 } });
    const restore = loseResponses(client, (e) => e.includes('ADD requests :one'));
    try {
      await expect(gate.admit(admission(config, apiKey))).rejects.toMatchObject({ status: 503, code: 'store_unavailable', cause: expect.objectContaining({ message: expect.stringContaining('injected') }) });
    } finally {
      restore();
    }
    const window = await item({ pk: `rl#key#${key.keyId}`, sk: '2026-11-25T10:30' });
    // Was failing: requests was 1 — a refused request consumed one of the key's 2 RPM.
    expect(window.requests ?? 0).toBe(0);
  });

  it('a slot is not given back when another admission took one after it (never over-admits)', async () => {
    const { key } = await keys.create({ name: 'ambiguous-slot-superseded', rateLimits: { rpm: 3 } });
    const windowKey = { pk: `rl#key#${key.keyId}`, sk: '2026-11-25T10:30' };
    const limiter = new DynamoRateLimiter(documentClient(client), tables.ledger);
    const first = await limiter.acquire('key', key.keyId, { rpm: 3 }, 0, T0, 'adm-1');
    await limiter.acquire('key', key.keyId, { rpm: 3 }, 0, T0, 'adm-2');
    expect(first.admitted).toBe(true);
    if (!first.admitted) return;
    expect(await limiter.giveBack(first.charge)).toBe(false); // adm-2 wrote last: adm-1's slot cannot be proven
    expect((await item(windowKey)).requests).toBe(2);
  });
});

describe('SDK retries of admission writes whose first attempt landed', () => {
  it('a retried reservation is recognised as reserved, and reserves once', async () => {
    const { apiKey, key } = await keys.create({ name: 'retried-reserve', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const restore = loseFirstResponseAndRetry(client, (e) => e.includes('SET #lease = :cost'));
    let a: Awaited<ReturnType<DynamoGatekeeper['admit']>>;
    try {
      a = await gate.admit(admission(config, apiKey));
    } finally {
      restore();
    }
    const counterKey = budgetCounterKey('key', key.keyId, '2026-11-25');
    const reserved = Number((await item(counterKey)).reserved);
    expect(reserved).toBeGreaterThan(0);
    await a.settle(success(usage(100, 100)));
    // Was: the retry added the cost a second time while the lease held it once, so `reserved` never returned to 0.
    expect(await item(counterKey)).toMatchObject({ reserved: 0 });
  });

  it('a retried rate-limit acquire is recognised as admitted, and counts once', async () => {
    const { apiKey, key } = await keys.create({ name: 'retried-slot', rateLimits: { rpm: 5 } });
    const restore = loseFirstResponseAndRetry(client, (e) => e.includes('ADD requests :one'));
    try {
      await gate.admit(admission(config, apiKey));
    } finally {
      restore();
    }
    expect((await item({ pk: `rl#key#${key.keyId}`, sk: '2026-11-25T10:30' })).requests).toBe(1);
  });
});

describe('worst-case reservation', () => {
  it('covers n choices (n is passed through to OpenAI-compatible hosts, which bill n × the output)', async () => {
    const { apiKey, key } = await keys.create({ name: 'n-choices', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.002, mode: 'hard' }] });
    const counterKey = budgetCounterKey('key', key.keyId, '2026-11-25');
    // 100 choices × 100 tokens = 10,000 output tokens; at Haiku 4.5's $5/M (the dearer target) 50,000
    // micro-dollars: far over the 2,000 budget, so refused. (Was admitted: priced for ONE choice, 657.)
    await expect(gate.admit(admission(config, apiKey, { request: { n: 100, max_tokens: 100 } }))).rejects.toThrow(BudgetExceededError);
    expect(Number((await item(counterKey)).reserved ?? 0)).toBe(0);
    // One choice fits.
    const one = await gate.admit(admission(config, apiKey, { request: { n: 1, max_tokens: 100 } }));
    expect(Number((await item(counterKey)).reserved)).toBeLessThan(2_000);
    await one.settle(success(usage(0, 0)));
  });

  it('reserves n × the output allowance, and settles the real usage under the cap', async () => {
    const { apiKey, key } = await keys.create({ name: 'n-choices-big', budgets: [{ scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' }] });
    const a = await gate.admit(admission(config, apiKey, { request: { n: 100, max_tokens: 100 } }));
    const counterKey = budgetCounterKey('key', key.keyId, '2026-11-25');
    expect(Number((await item(counterKey)).reserved)).toBeGreaterThanOrEqual(100 * 100 * 5);
    await a.settle(success(usage(100, 10_000)));
    expect(await item(counterKey)).toMatchObject({ reserved: 0, spent: 100 * 0.15 + 10_000 * 0.6 });
  });

  it('counts n × max_tokens against TPM', async () => {
    const { apiKey } = await keys.create({ name: 'n-choices-tpm', rateLimits: { tpm: 5_000 } });
    // 100 input (estimate) + 10 × 1,000 output > 5,000 TPM: refused without a write.
    await expect(gate.admit(admission(config, apiKey, { request: { n: 10, max_tokens: 1_000 } }))).rejects.toThrow(RateLimitError);
    await gate.admit(admission(config, apiKey, { request: { n: 4, max_tokens: 1_000 } }));
  });
});
