/**
 * Forecasts on DynamoDB Local: spend recorded on budget counters (the ledger's own soft charge), projected
 * at its burn rate; the "will be exhausted on" alert goes out exactly once per budget and period, however
 * many forecast runs race. Hand-computed: 10 days into a 30-day month (November), $40 of $100 spent →
 * $120 projected, exhausted after 10 × 100 / 40 = 25 days, on 2026-11-26T00:00Z.
 */
import type { BudgetForecastEvent } from '../../../lambda/core/budgets';
import { forecastSpend, periodBounds } from '../../../lambda/core/forecast';
import { DynamoBudgetLedger } from '../../../lambda/store/budget-ledger';
import { documentClient } from '../../../lambda/store/dynamo';
import { forecastBudgets, runForecastAlerts } from '../../../lambda/store/forecast-alerts';
import { KeyStore } from '../../../lambda/store/key-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

const NOW = Date.UTC(2026, 10, 11); // 2026-11-11T00:00Z: 10 days of November elapsed
const client = testDynamoClient();
const doc = documentClient(client);
let tables: TestTables;
let keys: KeyStore;
let ledger: DynamoBudgetLedger;

beforeAll(async () => {
  tables = await createTestTables(client, 'forecast');
  keys = new KeyStore({ client, table: tables.keys });
  ledger = new DynamoBudgetLedger(doc, tables.ledger, { globalShards: 1 });
  await keys.putPolicy('team', 'search', { budgets: [{ period: 'month', limitUsd: 100, mode: 'hard' }] });
  await keys.putPolicy('feature', 'chat', { budgets: [{ period: 'month', limitUsd: 100, mode: 'soft' }] });
  const budget = (scope: 'team' | 'feature', id: string) => ({ scope, id, period: 'month' as const, limitMicros: 100_000_000, mode: 'soft' as const, thresholdsPercent: [] });
  await ledger.charge(budget('team', 'search'), '2026-11', 40_000_000);
  await ledger.charge(budget('feature', 'chat'), '2026-11', 20_000_000);
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

describe('Method: forecastSpend', () => {
  it('projects the month from the burn rate and dates the exhaustion', () => {
    const bounds = periodBounds('month', NOW);
    expect(forecastSpend({ spentMicros: 40_000_000, limitMicros: 100_000_000, ...bounds, now: NOW })).toEqual({ projectedMicros: 120_000_000, exhaustsAt: Date.UTC(2026, 10, 26) });
    // $20 in 10 days: $60 by month end, under the limit: no exhaustion date.
    expect(forecastSpend({ spentMicros: 20_000_000, limitMicros: 100_000_000, ...bounds, now: NOW })).toEqual({ projectedMicros: 60_000_000 });
    expect(forecastSpend({ spentMicros: 0, limitMicros: 1, ...bounds, now: NOW })).toEqual({ projectedMicros: 0 });
  });
});

describe('Method: runForecastAlerts', () => {
  it('forecasts every budget from the ledger', async () => {
    const f = await forecastBudgets({ keys, ledger, now: NOW });
    expect(f.map((b) => [b.budget, b.spentMicros, b.projectedMicros, b.exhaustsAt && new Date(b.exhaustsAt).toISOString()]).sort()).toEqual([
      ['feature:chat:month', 20_000_000, 60_000_000, undefined],
      ['team:search:month', 40_000_000, 120_000_000, '2026-11-26T00:00:00.000Z'],
    ]);
  });

  it('sends the exhaustion alert exactly once per budget and period under 20 concurrent runs', async () => {
    const sent: BudgetForecastEvent[] = [];
    const sink = { budgetThresholdCrossed: async () => undefined, budgetExhaustionForecast: async (e: BudgetForecastEvent) => void sent.push(e) };
    const runs = await Promise.all(Array.from({ length: 20 }, () => runForecastAlerts({ keys, ledger, doc, table: tables.ledger, sink, now: NOW })));
    expect(runs.flatMap((r) => r.alerted)).toEqual(['team:search:month']);
    expect(sent).toEqual([
      { budget: 'team:search:month', scope: 'team', id: 'search', period: '2026-11', exhaustsAt: '2026-11-26T00:00:00.000Z', spentUsd: 40, limitUsd: 100, projectedUsd: 120, mode: 'hard' },
    ]);
    // A later run in the same period sends nothing more.
    await runForecastAlerts({ keys, ledger, doc, table: tables.ledger, sink, now: NOW + 3_600_000 });
    expect(sent).toHaveLength(1);
  });
});
