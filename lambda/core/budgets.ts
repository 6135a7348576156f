/**
 * Budget rules and decisions, pure: which budgets a request falls under, UTC period keys, how a sharded
 * cap is split, and which alert thresholds a settlement crossed. Money is integer micro-dollars.
 */
import * as z from 'zod';
import type { Attribution } from './gatekeeper';
import { usdToMicros } from './pricing';

export const BUDGET_SCOPES = ['key', 'team', 'customer', 'feature', 'global'] as const;
export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export type BudgetPeriod = 'day' | 'month';
export type BudgetMode = 'hard' | 'soft';

/** The id the single global budget uses (`global:*:month`). */
export const GLOBAL_BUDGET_ID = '*';

/**
 * A budget as configured on a key or a policy item. `id` omitted: the request's own value for that scope
 * (key → its key id, team → its team, ...), so `{scope:'customer', period:'day', limitUsd: 5}` on a key
 * caps each of that key's customers at $5 a day. A rule whose scope the request has no value for does not apply.
 */
export interface BudgetRule {
  scope: BudgetScope;
  id?: string;
  period: BudgetPeriod;
  limitUsd: number;
  mode: BudgetMode;
  /** Alert thresholds (percent of the limit); default config.alerts.budgetThresholdsPercent. */
  thresholdsPercent?: number[];
}

export const budgetRuleSchema = z.strictObject({
  scope: z.enum(BUDGET_SCOPES),
  id: z.string().regex(/^[^#:]{1,128}$/, 'budget ids are 1-128 characters without # or :').optional(),
  period: z.enum(['day', 'month']),
  limitUsd: z.number().nonnegative(),
  mode: z.enum(['hard', 'soft']).default('hard'),
  thresholdsPercent: z.array(z.number().positive().max(1000)).optional(),
});

/** A budget resolved for one request. Two rules naming the same scope:id:period share one counter. */
export interface EffectiveBudget {
  scope: BudgetScope;
  id: string;
  period: BudgetPeriod;
  limitMicros: number;
  mode: BudgetMode;
  thresholdsPercent: number[];
}

/** `scope:id:period`, the format of config.observability.watchedBudgets. */
export function budgetName(b: { scope: BudgetScope; id: string; period: BudgetPeriod }): string {
  return `${b.scope}:${b.id}:${b.period}`;
}

function attributedId(scope: BudgetScope, a: Attribution): string | undefined {
  switch (scope) {
    case 'key':
      return a.keyId;
    case 'team':
      return a.team;
    case 'customer':
      return a.customer;
    case 'feature':
      return a.feature;
    case 'global':
      return GLOBAL_BUDGET_ID;
  }
}

/**
 * The budgets a request is subject to. The same budget named twice (e.g. on the key and on the team's
 * policy) keeps the smallest limit, and is hard if either rule is hard: the strictest wins.
 */
export function resolveBudgets(rules: ReadonlyArray<BudgetRule>, a: Attribution, defaultThresholds: ReadonlyArray<number>): EffectiveBudget[] {
  const byName = new Map<string, EffectiveBudget>();
  for (const rule of rules) {
    const id = rule.scope === 'global' ? GLOBAL_BUDGET_ID : (rule.id ?? attributedId(rule.scope, a));
    if (!id) continue;
    const b: EffectiveBudget = {
      scope: rule.scope,
      id,
      period: rule.period,
      limitMicros: usdToMicros(rule.limitUsd),
      mode: rule.mode,
      thresholdsPercent: [...(rule.thresholdsPercent ?? defaultThresholds)].sort((x, y) => x - y),
    };
    const name = budgetName(b);
    const seen = byName.get(name);
    if (!seen) {
      byName.set(name, b);
      continue;
    }
    byName.set(name, {
      ...seen,
      limitMicros: Math.min(seen.limitMicros, b.limitMicros),
      mode: seen.mode === 'hard' || b.mode === 'hard' ? 'hard' : 'soft',
      thresholdsPercent: [...new Set([...seen.thresholdsPercent, ...b.thresholdsPercent])].sort((x, y) => x - y),
    });
  }
  return [...byName.values()];
}

/** UTC period key: `2026-11-25` for a day, `2026-11` for a month. */
export function periodKey(period: BudgetPeriod, epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return period === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

/** `2026-11-25` → day, `2026-11` → month; anything else is not a period. */
export function parsePeriodKey(key: string): BudgetPeriod | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(key)) return 'day';
  if (/^\d{4}-\d{2}$/.test(key)) return 'month';
  return undefined;
}

/**
 * A cap split over `shards` counters so that the sum of the shard caps is exactly the cap: each shard
 * enforces its own share with a conditional write, so the total can never exceed the cap.
 */
export function shardCaps(limitMicros: number, shards: number): number[] {
  const base = Math.floor(limitMicros / shards);
  const rest = limitMicros - base * shards;
  return Array.from({ length: shards }, (_, i) => base + (i < rest ? 1 : 0));
}

/** Thresholds (percent) that spend moving from `before` to `after` crossed: before < t·limit ≤ after. */
export function thresholdsCrossed(beforeMicros: number, afterMicros: number, limitMicros: number, thresholdsPercent: ReadonlyArray<number>): number[] {
  if (limitMicros <= 0 || afterMicros <= beforeMicros) return [];
  return thresholdsPercent.filter((t) => {
    const mark = (limitMicros * t) / 100;
    return beforeMicros < mark && afterMicros >= mark;
  });
}

export interface TopSpender {
  dimension: string;
  id: string;
  spentUsd: number;
}

export interface BudgetThresholdEvent {
  /** `scope:id:period`. */
  budget: string;
  scope: BudgetScope;
  id: string;
  /** The period key: `2026-11-25` or `2026-11`. */
  period: string;
  thresholdPercent: number;
  spentUsd: number;
  limitUsd: number;
  mode: BudgetMode;
  topSpenders: TopSpender[];
}

/** Where threshold crossings go (SNS in AWS). Called at most once per budget, threshold and period. */
export interface BudgetAlertSink {
  budgetThresholdCrossed(event: BudgetThresholdEvent): Promise<void>;
  /** At the burn rate so far the budget runs out before its period ends (store/forecast-alerts.ts); once per budget and period. */
  budgetExhaustionForecast?(event: BudgetForecastEvent): Promise<void>;
}

export interface BudgetForecastEvent {
  budget: string;
  scope: BudgetScope;
  id: string;
  period: string;
  /** ISO timestamp at which spend reaches the limit at the current rate. */
  exhaustsAt: string;
  spentUsd: number;
  limitUsd: number;
  projectedUsd: number;
  mode: string;
}
