/**
 * "Budget X will be exhausted on <date>": for every budget with a single counter (policies, and keys' own
 * budgets), the spend of the current period is projected at its burn rate so far; when it reaches the
 * limit before the period ends, an alert goes to the sink, exactly once per budget and period: a
 * conditional put of a marker item (`<period>#forecast`, attribute_not_exists) is claimed first, as for
 * the threshold alerts (store/budget-alerts.ts), so concurrent or repeated runs send it once.
 * Run by a scheduled function in AWS (handlers/forecaster.ts) and by the local server's timer.
 */
import type { StoreClient } from './lean-client';
import { PutCommand, type DocumentClient } from './lean-commands';
import { budgetName, GLOBAL_BUDGET_ID, periodKey, type BudgetAlertSink, type BudgetPeriod, type BudgetRule, type BudgetScope } from '../core/budgets';
import { forecastSpend, periodBounds, type Forecast } from '../core/forecast';
import { microsToUsd, usdToMicros } from '../core/pricing';
import { DynamoBudgetLedger } from './budget-ledger';
import { documentClient, isConditionalCheckFailed } from './dynamo';
import { KeyStore } from './key-store';

export interface BudgetForecast extends Forecast {
  budget: string;
  scope: BudgetScope;
  id: string;
  period: BudgetPeriod;
  periodKey: string;
  mode: string;
  limitMicros: number;
  spentMicros: number;
}

/** Every budget with one counter: policy budgets and each key's budgets that name (or are) one counter. */
export async function listCountedBudgets(keys: KeyStore): Promise<Array<{ rule: BudgetRule; id: string }>> {
  const [policies, keyRecords] = await Promise.all([keys.listPolicies(), keys.list()]);
  const out = new Map<string, { rule: BudgetRule; id: string }>();
  for (const p of policies) for (const b of p.budgets) out.set(budgetName({ scope: b.scope, id: p.id, period: b.period }), { rule: b, id: p.id });
  for (const k of keyRecords) {
    for (const b of k.budgets) {
      const id = b.scope === 'global' ? GLOBAL_BUDGET_ID : b.scope === 'key' ? (b.id ?? k.keyId) : b.id;
      if (id !== undefined) out.set(budgetName({ scope: b.scope, id, period: b.period }), { rule: b, id });
    }
  }
  return [...out.values()];
}

export async function forecastBudgets(deps: { keys: KeyStore; ledger: DynamoBudgetLedger; now: number }): Promise<BudgetForecast[]> {
  const budgets = await listCountedBudgets(deps.keys);
  return Promise.all(
    budgets.map(async ({ rule, id }) => {
      const key = periodKey(rule.period, deps.now);
      const { spentMicros } = await deps.ledger.totals({ scope: rule.scope, id }, key);
      const limitMicros = usdToMicros(rule.limitUsd);
      const bounds = periodBounds(rule.period, deps.now);
      return {
        budget: budgetName({ scope: rule.scope, id, period: rule.period }),
        scope: rule.scope,
        id,
        period: rule.period,
        periodKey: key,
        mode: rule.mode,
        limitMicros,
        spentMicros,
        ...forecastSpend({ spentMicros, limitMicros, ...bounds, now: deps.now }),
      };
    }),
  );
}

export interface ForecastAlertDeps {
  keys: KeyStore;
  ledger: DynamoBudgetLedger;
  doc: DocumentClient;
  table: string;
  sink: BudgetAlertSink;
  now: number;
}

/** One run: forecasts every budget and alerts (once per budget and period) those heading past their limit. */
export async function runForecastAlerts(deps: ForecastAlertDeps): Promise<{ budgets: number; alerted: string[] }> {
  const forecasts = await forecastBudgets(deps);
  const alerted: string[] = [];
  for (const f of forecasts) {
    if (f.exhaustsAt === undefined || f.spentMicros >= f.limitMicros) continue;
    if (!(await claimForecastAlert(deps, f))) continue;
    const event = {
      budget: f.budget,
      scope: f.scope,
      id: f.id,
      period: f.periodKey,
      exhaustsAt: new Date(f.exhaustsAt).toISOString(),
      spentUsd: microsToUsd(f.spentMicros),
      limitUsd: microsToUsd(f.limitMicros),
      projectedUsd: microsToUsd(f.projectedMicros),
      mode: f.mode,
    };
    await deps.sink.budgetExhaustionForecast?.(event);
    alerted.push(f.budget);
  }
  return { budgets: forecasts.length, alerted };
}

/** A forecast run over the gateway's tables (the hourly Lambda and the local server's timer build theirs here). */
export function forecastRunner(opts: { client: StoreClient; tables: { keys: string; ledger: string }; globalShards: number; sink: BudgetAlertSink }): (now: number) => Promise<{ budgets: number; alerted: string[] }> {
  const doc = documentClient(opts.client);
  const keys = new KeyStore({ client: opts.client, table: opts.tables.keys });
  const ledger = new DynamoBudgetLedger(doc, opts.tables.ledger, { globalShards: opts.globalShards });
  return (now) => runForecastAlerts({ keys, ledger, doc, table: opts.tables.ledger, sink: opts.sink, now });
}

async function claimForecastAlert(deps: ForecastAlertDeps, f: BudgetForecast): Promise<boolean> {
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.table,
        Item: { pk: `budget#${f.scope}#${f.id}`, sk: `${f.periodKey}#forecast`, kind: 'forecastMarker', exhaustsAt: f.exhaustsAt, spentMicros: f.spentMicros, claimedAt: deps.now },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return false;
    throw err;
  }
}
