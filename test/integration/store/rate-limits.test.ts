import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BudgetExceededError, RateLimitError } from '../../../lambda/core/errors';
import type { Admission } from '../../../lambda/core/gatekeeper';
import { minuteWindow } from '../../../lambda/core/limits';
import { documentClient } from '../../../lambda/store/dynamo';
import type { DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { rateWindowKey } from '../../../lambda/store/item-keys';
import type { KeyStore } from '../../../lambda/store/key-store';
import type { TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, failUpdates, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
const config = testConfig();

beforeAll(async () => {
  ({ client, tables, keys, gate } = await openGatekeeperFixture('ratelimit', { config, estimate: 10 }));
});

afterAll(() => closeGatekeeperFixture({ client, tables }));

async function windowItem(scope: 'key' | 'team', id: string, now = T0) {
  const out = await documentClient(client).send(new GetCommand({ TableName: tables.ledger, Key: rateWindowKey(scope, id, minuteWindow(now)), ConsistentRead: true }));
  return out.Item;
}

function outcomes(results: PromiseSettledResult<Admission>[]) {
  const admitted = results.filter((r): r is PromiseFulfilledResult<Admission> => r.status === 'fulfilled').map((r) => r.value);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  return { admitted, rejected };
}

describe('Method: admit (requests per minute)', () => {
  it('admits exactly rpm of 300 concurrent requests in one window', async () => {
    const { apiKey, key } = await keys.create({ name: 'rpm', rateLimits: { rpm: 37 } });
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => gate.admit(admission(config, apiKey))));
    const { admitted, rejected } = outcomes(results);
    expect(admitted).toHaveLength(37);
    expect(rejected).toHaveLength(263);
    expect(rejected.every((e) => e instanceof RateLimitError)).toBe(true);
    expect((await windowItem('key', key.keyId))?.requests).toBe(37);
  });

  it('returns OpenAI rate-limit headers on admission and on rejection', async () => {
    const { apiKey } = await keys.create({ name: 'headers', rateLimits: { rpm: 2, tpm: 1000 } });
    const first = await gate.admit(admission(config, apiKey)); // 15 s into the minute
    expect(first.headers).toEqual({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '1',
      'x-ratelimit-reset-requests': '45s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '890', // 10 estimated input + 100 max_tokens
      'x-ratelimit-reset-tokens': '45s',
    });
    await gate.admit(admission(config, apiKey));
    const err = (await gate.admit(admission(config, apiKey)).catch((e: unknown) => e)) as RateLimitError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers).toMatchObject({ 'retry-after': '45', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-limit-requests': '2' });
    expect(err.message).toMatch(/requests per min \(RPM\): Limit 2, Used 2/);
  });

  it('opens a new window at the next UTC minute', async () => {
    const { apiKey } = await keys.create({ name: 'rollover', rateLimits: { rpm: 1 } });
    await gate.admit(admission(config, apiKey, { now: T0 }));
    await expect(gate.admit(admission(config, apiKey, { now: T0 + 44_000 }))).rejects.toBeInstanceOf(RateLimitError);
    await expect(gate.admit(admission(config, apiKey, { now: T0 + 45_000 }))).resolves.toBeDefined();
  });
});

describe('Method: admit (tokens per minute)', () => {
  it('rejects a request larger than the whole TPM allowance without a write', async () => {
    const { apiKey, key } = await keys.create({ name: 'too-big', rateLimits: { tpm: 50 } });
    const err = (await gate.admit(admission(config, apiKey)).catch((e: unknown) => e)) as RateLimitError;
    expect(err.code).toBe('tokens_rate_limit_exceeded');
    expect(await windowItem('key', key.keyId)).toBeUndefined();
  });

  it('admits by estimate and corrects the window to actual usage at settlement', async () => {
    const { apiKey, key } = await keys.create({ name: 'tpm', rateLimits: { tpm: 300 } });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => gate.admit(admission(config, apiKey))));
    const { admitted } = outcomes(results);
    expect(admitted).toHaveLength(2); // 110 tokens each against 300
    await Promise.all(admitted.map((a) => a.settle(success(usage(10, 5)))));
    expect((await windowItem('key', key.keyId))?.tokens).toBe(30);
    await expect(gate.admit(admission(config, apiKey))).resolves.toBeDefined();
  });

  it('retries a correction that adds tokens when its write fails: the window still counts what was used', async () => {
    const { apiKey, key } = await keys.create({ name: 'tpm-retry', rateLimits: { tpm: 1_000_000 } });
    const admitted = await gate.admit(admission(config, apiKey));
    // The first correction write fails before it is sent (as after the client's own retries ran out).
    const fault = failUpdates(client, (expr) => expr.includes('ADD requests :r, tokens :t'), 1);
    try {
      await admitted.settle(success(usage(5_000, 5)));
    } finally {
      fault.restore();
    }
    expect(fault.failed()).toBe(1);
    expect((await windowItem('key', key.keyId))?.tokens).toBe(5_005);
  });
});

describe('Method: admit (team limits)', () => {
  it('applies a team policy across all of the team keys, never admitting more than the team limit', async () => {
    await keys.putPolicy('team', 'crowd', { rateLimits: { rpm: 25 } });
    const members = await Promise.all(Array.from({ length: 3 }, (_, i) => keys.create({ name: `crowd-${i}`, team: 'crowd', rateLimits: { rpm: 20 } })));
    gate.clearCaches();
    const burst = outcomes(await Promise.allSettled(Array.from({ length: 90 }, (_, i) => gate.admit(admission(config, members[i % 3].apiKey))))).admitted.length;
    // Two counters without a transaction: a slot one limit granted and the other refused is given back, so
    // under contention a burst may admit fewer than the limit, never more.
    expect(burst).toBeGreaterThan(0);
    expect(burst).toBeLessThanOrEqual(25);
    expect((await windowItem('team', 'crowd'))?.requests).toBe(burst);
    const perKey = await Promise.all(members.map((m) => windowItem('key', m.key.keyId)));
    expect(perKey.reduce((n, item) => n + Number(item?.requests ?? 0), 0)).toBe(burst);

    // At rest the limit is exact: the remaining slots are admitted, one by one, and no more.
    let more = 0;
    for (let i = 0; i < 40; i++) {
      const ok = await gate.admit(admission(config, members[i % 3].apiKey)).then(() => true, () => false);
      if (ok) more++;
    }
    expect(burst + more).toBe(25);
  });
});

describe('Method: admit (rate limit and budget together)', () => {
  it('gives the rate-limit slot back when a budget refuses the request', async () => {
    const { apiKey, key } = await keys.create({
      name: 'broke',
      rateLimits: { rpm: 5 },
      budgets: [{ scope: 'key', period: 'day', limitUsd: 0.0001, mode: 'hard' }],
    });
    await expect(gate.admit(admission(config, apiKey))).rejects.toBeInstanceOf(BudgetExceededError);
    expect((await windowItem('key', key.keyId))?.requests).toBe(0);
  });
});
