import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoBudgetLedger } from '../../../lambda/store/budget-ledger';
import { documentClient } from '../../../lambda/store/dynamo';
import { createTestTables, deleteTestTables, ENDPOINT_ENV, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

let client: DynamoDBClient;
let tables: TestTables;
const saved = { ...process.env };

beforeAll(async () => {
  client = testDynamoClient();
  tables = await createTestTables(client, 'sweeper');
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: process.env[ENDPOINT_ENV],
    TOLLGATE_LEDGER_TABLE: tables.ledger,
    TOLLGATE_KEYS_TABLE: tables.keys,
    TOLLGATE_CONFIG_JSON: JSON.stringify({ providers: { openai: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' } }, models: { gpt: { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } } }),
  });
});

afterAll(async () => {
  process.env = saved;
  await deleteTestTables(client, tables);
  client.destroy();
});

describe('Method: handler (sweeper Lambda)', () => {
  it('charges reservations whose lease has expired at the reservation (never released for free)', async () => {
    const ledger = new DynamoBudgetLedger(documentClient(client), tables.ledger, { globalShards: 1 });
    const budget = { scope: 'team' as const, id: 'crashed', period: 'day' as const, limitMicros: 1_000, mode: 'hard' as const, thresholdsPercent: [] };
    const period = '2026-11-25';
    await ledger.openLease('lease-1', Date.now() - 1, ledger.counterKeys(budget, period).map((key) => ({ key, costMicros: 400 })));
    expect((await ledger.reserve(budget, period, 400, 'lease-1')).ok).toBe(true);

    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const { handler } = await import('../../../lambda/handlers/sweeper');
    await expect(handler()).resolves.toEqual({ leases: 1, charged: 1, settled: 0, released: 0, lost: 0, reclaimedLeases: 0 });
    expect(log).toHaveBeenCalledWith(expect.stringContaining('"charged":1'));
    log.mockRestore();
    expect(await ledger.totals(budget, period)).toMatchObject({ reservedMicros: 0, committedMicros: 400, spentMicros: 400 });
  });
});
