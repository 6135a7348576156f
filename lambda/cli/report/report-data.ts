/**
 * Everything `tollgate report` draws, gathered from the store in one place: spend per day by model,
 * spend by feature and by customer, budget burn-down with forecasts, and the insights.
 */
import type { BudgetPeriod } from '../../core/budgets';
import { forecastSpend, periodBounds } from '../../core/forecast';
import type { Insights } from '../../core/insights';
import type { UsageDimension } from '../../core/metering';
import { DynamoBudgetLedger } from '../../store/budget-ledger';
import { documentClient } from '../../store/dynamo';
import { listCountedBudgets } from '../../store/forecast-alerts';
import { InsightReader } from '../../store/insight-reader';
import { KeyStore } from '../../store/key-store';
import { UsageReader } from '../../store/usage-store';
import type { RunContext } from '../command';
import { loadInsights } from '../commands/insights';

export interface BudgetBurn {
  budget: string;
  limitMicros: number;
  spentMicros: number;
  projectedMicros: number;
  exhaustsAt?: string;
  /** Cumulative spend at the end of each day of the month so far (from the budget's dimension rollups). */
  cumulative: Array<{ day: string; micros: number }>;
}

export interface ReportData {
  period: string;
  generatedAt: string;
  days: string[];
  /** model → micro-dollars per day (aligned with `days`). */
  spendByModelPerDay: Record<string, number[]>;
  byFeature: Array<{ value: string; costMicros: number; requests: number }>;
  topCustomers: Array<{ value: string; costMicros: number; requests: number }>;
  budgets: BudgetBurn[];
  insights: Insights;
  totalMicros: number;
  requests: number;
}

const SCOPE_DIMENSION: Record<string, UsageDimension | undefined> = { key: 'key', team: 'team', customer: 'customer', feature: 'feature' };

export async function gatherReport(ctx: RunContext, period: string): Promise<ReportData> {
  const s = await ctx.store();
  const now = ctx.now();
  const month = period.slice(0, 7);
  const reader = new InsightReader({ client: s.client, table: s.tables.ledger });
  const usage = new UsageReader({ client: s.client, table: s.tables.ledger });
  const [byModel, features, customers, insights] = await Promise.all([reader.daily('model', period), usage.usageBy('feature', period), usage.usageBy('customer', period), loadInsights(ctx, period)]);
  const days = [...new Set(byModel.map((r) => r.day))].sort();
  const spendByModelPerDay: Record<string, number[]> = {};
  for (const r of byModel) {
    spendByModelPerDay[r.value] ??= days.map(() => 0);
    spendByModelPerDay[r.value][days.indexOf(r.day)] += r.costMicros;
  }

  const keys = new KeyStore({ client: s.client, table: s.tables.keys, now: ctx.now });
  const ledger = new DynamoBudgetLedger(documentClient(s.client), s.tables.ledger, { globalShards: ctx.settings().globalBudgetShards });
  const counted = (await listCountedBudgets(keys)).filter((b) => b.rule.period === ('month' satisfies BudgetPeriod));
  const budgets = await Promise.all(
    counted.slice(0, 6).map(async ({ rule, id }): Promise<BudgetBurn> => {
      const { spentMicros } = await ledger.totals({ scope: rule.scope, id }, month);
      const limitMicros = Math.round(rule.limitUsd * 1_000_000);
      const f = forecastSpend({ spentMicros, limitMicros, ...periodBounds('month', now), now });
      const dimension = SCOPE_DIMENSION[rule.scope];
      const daily = dimension ? (await reader.daily(dimension, month)).filter((r) => r.value === id) : await reader.daily('environment', month);
      const perDay = new Map<string, number>();
      for (const r of daily) perDay.set(r.day, (perDay.get(r.day) ?? 0) + r.costMicros);
      let running = 0;
      const cumulative = [...perDay.keys()].sort().map((day) => ({ day, micros: (running += perDay.get(day) ?? 0) }));
      return {
        budget: `${rule.scope}:${id}:month`,
        limitMicros,
        spentMicros,
        projectedMicros: f.projectedMicros,
        ...(f.exhaustsAt !== undefined ? { exhaustsAt: new Date(f.exhaustsAt).toISOString() } : {}),
        cumulative,
      };
    }),
  );
  const pick = (r: { value: string; costMicros: number; requests: number }) => ({ value: r.value, costMicros: r.costMicros, requests: r.requests });
  return {
    period,
    generatedAt: new Date(now).toISOString(),
    days,
    spendByModelPerDay,
    byFeature: features.map(pick),
    topCustomers: customers.slice(0, 10).map(pick),
    budgets,
    insights,
    totalMicros: features.reduce((sum, r) => sum + r.costMicros, 0),
    requests: features.reduce((sum, r) => sum + r.requests, 0),
  };
}
