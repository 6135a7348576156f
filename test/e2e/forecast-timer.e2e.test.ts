/**
 * The local server's forecast timer (the hourly forecaster Lambda's stand-in): with an interval set it
 * projects every budget and sends "will be exhausted on <date>" once per budget and period; unset (as in
 * every other test) it never runs; after close() it is cleared and runs no more. DynamoDB Local.
 * Hand-computed as in test/integration/insights/forecast.test.ts: 10 days into November, $40 of $100 →
 * exhausted on 2026-11-26.
 */
import type { BudgetForecastEvent } from '../../lambda/core/budgets';
import { parseConfig } from '../../lambda/core/config';
import { startLocalGateway, type LocalGateway } from '../../lambda/local/gateway';
import { DynamoBudgetLedger } from '../../lambda/store/budget-ledger';
import { documentClient } from '../../lambda/store/dynamo';
import { KeyStore } from '../../lambda/store/key-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../support/dynamodb-local';

const NOW = Date.UTC(2026, 10, 11);
const config = parseConfig({ providers: { mock: { kind: 'mock', priceAs: 'openai' } }, models: { m: { targets: [{ provider: 'mock', model: 'gpt-4o-mini' }] } } });
const dynamo = testDynamoClient();
let tables: TestTables;
let keys: KeyStore;
let ledger: DynamoBudgetLedger;

beforeAll(async () => {
  tables = await createTestTables(dynamo, 'fctimer');
  keys = new KeyStore({ client: dynamo, table: tables.keys });
  ledger = new DynamoBudgetLedger(documentClient(dynamo), tables.ledger, { globalShards: 1 });
});

afterAll(async () => {
  await deleteTestTables(dynamo, tables);
  dynamo.destroy();
});

async function heading(team: string): Promise<void> {
  await keys.putPolicy('team', team, { budgets: [{ period: 'month', limitUsd: 100, mode: 'hard' }] });
  await ledger.charge({ scope: 'team', id: team, period: 'month', limitMicros: 100_000_000, mode: 'soft', thresholdsPercent: [] }, '2026-11', 40_000_000);
}

function start(sent: BudgetForecastEvent[], forecastIntervalMs?: number): Promise<LocalGateway> {
  const alertSink = { budgetThresholdCrossed: () => Promise.resolve(), budgetExhaustionForecast: async (e: BudgetForecastEvent) => void sent.push(e) };
  return startLocalGateway({ config, store: { client: dynamo, tables }, env: {}, telemetry: false, now: () => NOW, sweepIntervalMs: 0, alertSink, forecastIntervalMs });
}

async function until(check: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
}

describe('Local server: forecast timer', () => {
  it('is off unless an interval is set', async () => {
    await heading('off');
    const sent: BudgetForecastEvent[] = [];
    const gateway = await start(sent);
    await new Promise((r) => setTimeout(r, 300));
    await gateway.close();
    expect(sent).toEqual([]);
  });

  it('alerts once per budget and period on its interval, and stops at close', async () => {
    const sent: BudgetForecastEvent[] = [];
    const gateway = await start(sent, 25);
    await until(() => sent.length > 0, 10_000);
    // Several more intervals: still one alert for the budget (the claimed marker), none for the budget under its limit.
    await new Promise((r) => setTimeout(r, 200));
    await gateway.close();
    expect(sent.map((e) => [e.budget, e.exhaustsAt])).toEqual([['team:off:month', '2026-11-26T00:00:00.000Z']]);

    // Closed: a budget heading past its limit now is never forecast by this (stopped) server.
    await heading('late');
    await new Promise((r) => setTimeout(r, 200));
    expect(sent).toHaveLength(1);
  });
});
