/**
 * The store on dynalite (the local server's embedded DynamoDB): no transactions are used, and failed
 * conditions fall back to a read where dynalite does not return the old item.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BudgetExceededError, RateLimitError } from '../../../lambda/core/errors';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { KeyStore } from '../../../lambda/store/key-store';
import { UsageReader } from '../../../lambda/store/usage-store';
import { createTestTables, type TestTables } from '../../support/dynamodb-local';
import { admission, fixedEstimate, success, T0, testConfig, usage } from './fixtures';

let server: Server;
let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
const events: string[] = [];
const config = testConfig();

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  tables = await createTestTables(client, 'dynalite');
  keys = new KeyStore({ client, table: tables.keys });
  gate = createDynamoGatekeeper({
    client,
    tables,
    config,
    now: () => T0,
    estimateInputTokens: fixedEstimate(100),
    alertSink: { budgetThresholdCrossed: async (e) => void events.push(`${e.budget}@${e.thresholdPercent}`) },
  });
});

afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('Store on dynalite', () => {
  it('authenticates, rate-limits, reserves, settles, alerts and reports', async () => {
    const { apiKey, key } = await keys.create({
      name: 'local',
      team: 'dev',
      budgets: [{ scope: 'key', period: 'day', limitUsd: 0.0009, mode: 'hard', thresholdsPercent: [25] }],
    });
    const first = await gate.admit(admission(config, apiKey)); // reserves the 657 micro-dollar worst case
    await first.settle(success(usage(1_000, 200))); // 150 + 120 = 270 micro-dollars
    expect(events).toEqual([`key:${key.keyId}:day@25`]);
    // 270 spent + 657 worst case > 900: refused, with the spend read back after the failed condition.
    const err = (await gate.admit(admission(config, apiKey)).catch((e: unknown) => e)) as BudgetExceededError;
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err.message).toContain('$0.000270 of $0.000900');

    const limited = await keys.create({ name: 'limited', team: 'dev', rateLimits: { rpm: 2 } });
    expect((await gate.admit(admission(config, limited.apiKey))).headers['x-ratelimit-remaining-requests']).toBe('1');
    await gate.admit(admission(config, limited.apiKey));
    const limitErr = (await gate.admit(admission(config, limited.apiKey)).catch((e: unknown) => e)) as RateLimitError;
    expect(limitErr).toBeInstanceOf(RateLimitError);
    expect(limitErr.headers['x-ratelimit-remaining-requests']).toBe('0');

    const reader = new UsageReader({ client, table: tables.ledger });
    expect((await reader.usageBy('team', '2026-11')).map((r) => [r.value, r.costMicros])).toEqual([['dev', 270]]);
    expect(await reader.budget('key', key.keyId, '2026-11-25')).toMatchObject({ spentMicros: 270 });
  });
});
