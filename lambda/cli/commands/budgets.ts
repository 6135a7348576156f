/**
 * `tollgate budgets set|remove|list`. Team, customer, feature and global budgets live on policy items
 * (shared by every request of that team/customer/feature, or by all requests); key budgets on the key.
 */
import { BUDGET_SCOPES, budgetName, GLOBAL_BUDGET_ID, periodKey, type BudgetPeriod, type BudgetRule, type BudgetScope } from '../../core/budgets';
import { forecastSpend, periodBounds } from '../../core/forecast';
import { ATTRIBUTION_ID } from '../../core/metering';
import { usdToMicros } from '../../core/pricing';
import type { ApiKeyRecord } from '../../store/key-store';
import { NotFound, oneOf, positionals, thresholds, usdAmount, UsageError } from '../args';
import { defineCommand } from '../command';
import { renderJson, renderTable, usd, usdFromMicros } from '../format';
import { updatePolicy, type PolicyBudget } from '../policies';
import { budgetLedger, keyStore } from '../stores';

const SCOPE_OPTIONS = {
  scope: { type: 'string' },
  id: { type: 'string' },
  period: { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface BudgetTarget {
  scope: BudgetScope;
  id: string;
}

function budgetTarget(v: { scope?: string; id?: string }, command: string): BudgetTarget {
  const scope = oneOf(v.scope, BUDGET_SCOPES, 'scope');
  if (!scope) throw new UsageError(`--scope is required: one of ${BUDGET_SCOPES.join(', ')}.`, command);
  if (scope === 'global') {
    if (v.id !== undefined && v.id !== GLOBAL_BUDGET_ID) throw new UsageError("The global budget has no --id (it covers every request).", command);
    return { scope, id: GLOBAL_BUDGET_ID };
  }
  if (v.id === undefined) throw new UsageError(`--id is required for a ${scope} budget (the ${scope === 'key' ? 'key id' : `${scope} id`}).`, command);
  if (scope !== 'key' && !ATTRIBUTION_ID.test(v.id)) throw new UsageError(`--id '${v.id}' is not a valid ${scope} id: 1-128 letters, digits and . _ @ + / -.`, command);
  return { scope, id: v.id };
}

/** The key's rule that is "this key's own budget for the period" (id omitted or naming the key). */
function isOwnKeyRule(rule: BudgetRule, keyId: string, period: BudgetPeriod | undefined): boolean {
  return rule.scope === 'key' && (rule.id === undefined || rule.id === keyId) && (period === undefined || rule.period === period);
}

export const budgetsSet = defineCommand({
  name: 'budgets set',
  summary: 'set a key, team, customer, feature or global budget',
  help: `Usage: tollgate budgets set --scope <key|team|customer|feature|global> [--id <id>] --limit-usd <usd>
                           [--period day|month] [--mode hard|soft] [--thresholds 50,80,100] [--json]

A hard budget refuses requests that could take spend past the limit (their worst-case cost is reserved
at admission); a soft one only alerts. Periods are UTC days or months. Setting a budget for a scope, id
and period replaces the one that was there.

  --scope <scope>               key | team | customer | feature | global
  --id <id>                     the key id, team, customer or feature (not for global)
  --limit-usd <usd>             the cap in USD, e.g. 100 or 0.5
  --period day|month            default month
  --mode hard|soft              default hard
  --thresholds 50,80,100        alert at these percentages (default: config.alerts.budgetThresholdsPercent)

Examples:
  tollgate budgets set --scope team --id search --period month --limit-usd 100 --mode hard --thresholds 50,80,100
  tollgate budgets set --scope global --period day --limit-usd 250
  tollgate budgets set --scope key --id key_3f9a0c1d2b4e5f60 --limit-usd 20 --mode soft`,
  options: { ...SCOPE_OPTIONS, 'limit-usd': { type: 'string' }, mode: { type: 'string' }, thresholds: { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'budgets set');
    const target = budgetTarget(v, 'budgets set');
    if (v['limit-usd'] === undefined) throw new UsageError('--limit-usd is required.', 'budgets set');
    const budget: PolicyBudget = {
      period: oneOf(v.period, ['day', 'month'] as const, 'period') ?? 'month',
      limitUsd: usdAmount(v['limit-usd'], '--limit-usd'),
      mode: oneOf(v.mode, ['hard', 'soft'] as const, 'mode') ?? 'hard',
      ...(v.thresholds !== undefined ? { thresholdsPercent: thresholds(v.thresholds) } : {}),
    };
    const store = await keyStore(ctx);
    if (target.scope === 'key') {
      const key = await store.get(target.id);
      if (!key) throw new NotFound(`No API key with id '${target.id}'.`);
      const budgets = [...key.budgets.filter((r) => !isOwnKeyRule(r, key.keyId, budget.period)), { scope: 'key' as const, ...budget }];
      await store.update(key.keyId, { budgets });
    } else {
      const scope = target.scope;
      await updatePolicy(store, scope, target.id, (cur) => ({ ...cur, budgets: [...cur.budgets.filter((b) => b.period !== budget.period), budget] }));
    }
    const name = budgetName({ ...target, period: budget.period });
    ctx.io.stdout(v.json ? renderJson({ budget: name, ...target, ...budget }) : `Budget ${name}: $${usd(budget.limitUsd)} ${budget.mode}.\n`);
  },
});

export const budgetsRemove = defineCommand({
  name: 'budgets remove',
  summary: 'remove a budget',
  help: `Usage: tollgate budgets remove --scope <scope> [--id <id>] [--period day|month]

Without --period, removes the scope's day and month budgets.

Example:
  tollgate budgets remove --scope team --id search --period month`,
  options: SCOPE_OPTIONS,
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'budgets remove');
    const target = budgetTarget(v, 'budgets remove');
    const period = oneOf(v.period, ['day', 'month'] as const, 'period');
    const store = await keyStore(ctx);
    let removed = 0;
    if (target.scope === 'key') {
      const key = await store.get(target.id);
      if (!key) throw new NotFound(`No API key with id '${target.id}'.`);
      const kept = key.budgets.filter((r) => !isOwnKeyRule(r, key.keyId, period));
      removed = key.budgets.length - kept.length;
      if (removed > 0) await store.update(key.keyId, { budgets: kept });
    } else {
      await updatePolicy(store, target.scope, target.id, (cur) => {
        const kept = cur.budgets.filter((b) => period !== undefined && b.period !== period);
        removed = cur.budgets.length - kept.length;
        return { ...cur, budgets: kept };
      });
    }
    const what = period ? budgetName({ ...target, period }) : `${target.scope}:${target.id}`;
    if (removed === 0) throw new NotFound(`No budget ${what} is set.`);
    ctx.io.stdout(v.json ? renderJson({ removed, ...target, period: period ?? null }) : `Removed ${removed} budget${removed === 1 ? '' : 's'} (${what}).\n`);
  },
});

interface BudgetRow {
  budget: string;
  scope: BudgetScope;
  /** `undefined`: a key rule applying to each value of its scope separately (no single counter). */
  id?: string;
  period: BudgetPeriod;
  source: string;
  limitUsd: number;
  mode: string;
  thresholdsPercent: number[];
  /** The current period key, and spend in it. */
  currentPeriod: string;
  spentMicros?: number;
  reservedMicros?: number;
  /** Of spentMicros, charged for admission leases of dead holders (BudgetTotals.reclaimedMicros). */
  reclaimedMicros?: number;
  /** Period-end spend at the burn rate so far, and when that rate reaches the limit (core/forecast.ts). */
  forecastMicros?: number;
  exhaustsAt?: string;
}

export const budgetsList = defineCommand({
  name: 'budgets list',
  summary: 'list budgets with their spend in the current period',
  help: `Usage: tollgate budgets list [--scope <scope>] [--json]

Lists team, customer, feature and global budgets (policies) and the budgets on active keys, with what
was spent and is reserved by requests in flight in the current UTC day or month, the spend forecast for
the period's end at the burn rate so far, and when that rate exhausts the budget (if before the end). A key budget without an
id (e.g. customer:day on a key) caps each customer separately and has no single total. Spend the sweeper
charged for admission leases of a process that died (what they held, used or not) is named under the
table, and is \`reclaimedMicros\` in --json.

Example:
  tollgate budgets list --scope team`,
  options: { scope: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'budgets list');
    const scope = oneOf(v.scope, BUDGET_SCOPES, 'scope');
    const store = await keyStore(ctx);
    const [policies, keys] = await Promise.all([store.listPolicies(), store.list()]);
    const defaults = ctx.settings().budgetThresholdsPercent;
    const now = ctx.now();
    const rows: BudgetRow[] = [
      ...policies.flatMap((pol) => pol.budgets.map((b) => row(b, pol.id, `${pol.scope} policy`, defaults, now))),
      ...keys.flatMap((k) => k.budgets.map((b) => row(b, keyRuleId(b, k), `key ${k.keyId}`, defaults, now))),
    ]
      .filter((r) => scope === undefined || r.scope === scope)
      .sort((a, b) => a.budget.localeCompare(b.budget) || a.source.localeCompare(b.source));
    const ledger = await budgetLedger(ctx);
    await Promise.all(
      rows
        .filter((r) => r.id !== undefined)
        .map(async (r) => {
          const totals = await ledger.totals({ scope: r.scope, id: r.id as string }, r.currentPeriod);
          r.spentMicros = totals.spentMicros;
          r.reservedMicros = totals.reservedMicros;
          r.reclaimedMicros = totals.reclaimedMicros;
          const f = forecastSpend({ spentMicros: totals.spentMicros, limitMicros: usdToMicros(r.limitUsd), ...periodBounds(r.period, now), now });
          r.forecastMicros = f.projectedMicros;
          if (f.exhaustsAt !== undefined) r.exhaustsAt = new Date(f.exhaustsAt).toISOString();
        }),
    );
    if (v.json) {
      ctx.io.stdout(renderJson(rows));
      return;
    }
    if (rows.length === 0) {
      ctx.io.stdout(`No ${scope ? `${scope} ` : ''}budgets are set.\n`);
      return;
    }
    ctx.io.stdout(
      renderTable(
        [
          { header: 'BUDGET' },
          { header: 'SOURCE' },
          { header: 'MODE' },
          { header: 'LIMIT_USD', right: true },
          { header: 'PERIOD' },
          { header: 'SPENT_USD', right: true },
          { header: 'RESERVED_USD', right: true },
          { header: 'USED', right: true },
          { header: 'ALERTS_AT' },
          { header: 'FORECAST_USD', right: true },
          { header: 'EXHAUSTS_ON' },
        ],
        rows.map((r) => [
          r.budget,
          r.source,
          r.mode,
          usd(r.limitUsd),
          r.currentPeriod,
          r.spentMicros === undefined ? 'per value' : usdFromMicros(r.spentMicros),
          r.reservedMicros === undefined ? '-' : usdFromMicros(r.reservedMicros),
          r.spentMicros === undefined || r.limitUsd === 0 ? '-' : `${((r.spentMicros / 1_000_000 / r.limitUsd) * 100).toFixed(1)}%`,
          r.thresholdsPercent.map((t) => `${t}%`).join(','),
          r.forecastMicros === undefined ? '-' : usdFromMicros(r.forecastMicros),
          r.exhaustsAt === undefined ? '-' : `${r.exhaustsAt.slice(0, 16)}Z`,
        ]),
      ),
    );
    // Spend the sweeper charged without a request behind it: say so, rather than let it pass for usage.
    const reclaimed = rows.filter((r) => (r.reclaimedMicros ?? 0) > 0);
    for (const r of reclaimed) {
      ctx.io.stdout(
        `${r.budget}: ${usdFromMicros(r.reclaimedMicros ?? 0)} of SPENT_USD was charged for admission leases whose holder stopped ` +
          '(a crashed process, or a Lambda container frozen past its hold), not for recorded requests ' +
          '(docs/table-design.md, "Admission leases").\n',
      );
    }
  },
});

function keyRuleId(rule: BudgetRule, key: ApiKeyRecord): string | undefined {
  if (rule.scope === 'global') return GLOBAL_BUDGET_ID;
  if (rule.scope === 'key') return rule.id ?? key.keyId;
  return rule.id;
}

function row(b: BudgetRule, id: string | undefined, source: string, defaults: number[], now: number): BudgetRow {
  return {
    budget: budgetName({ scope: b.scope, id: id ?? '(each)', period: b.period }),
    scope: b.scope,
    id,
    period: b.period,
    source,
    limitUsd: b.limitUsd,
    mode: b.mode,
    thresholdsPercent: b.thresholdsPercent ?? defaults,
    currentPeriod: periodKey(b.period, now),
  };
}
