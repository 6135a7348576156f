/** `tollgate insights`: cheaper models, caching, output caps and experiment arms from the period's rollups. */
import { parsePeriodKey, periodKey } from '../../core/budgets';
import { buildInsights, type Insights } from '../../core/insights';
import { InsightReader } from '../../store/insight-reader';
import { oneOf, positionals, UsageError } from '../args';
import { defineCommand, type RunContext } from '../command';
import { renderJson, renderTable, usdFromMicros } from '../format';

const FORMATS = ['table', 'json'] as const;

export const insights = defineCommand({
  name: 'insights',
  summary: 'how to spend less: cheaper models, prompt caching, output caps, experiment results',
  help: `Usage: tollgate insights [--period <yyyy-mm|yyyy-mm-dd>] [--format table|json]

From the usage rollups of a UTC month (default: the current one) or day:
  cheaper models   per feature and served model, models of at least the same capability (context window,
                   tools, vision, reasoning) priced on that feature's own token mix, ranked by saving;
  caching          long prompt prefixes sent again and again without cache reads, with the saving that the
                   provider's prompt cache would give at its cache prices;
  output caps      features whose max_tokens (and so budget reservations) far exceed what they use;
  experiments      the arms of split aliases: cost per request, latency, error and fallback rates.
Each finding shows its evidence. Monthly savings scale the period's traffic to a whole month. Prices
and providers come from the config (TOLLGATE_CONFIG or tollgate.config.json).

  --period <period>             2026-11 or 2026-11-25; default: the current month
  --format <format>             table (default) or json`,
  options: { period: { type: 'string' }, format: { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'insights');
    const period = checkedPeriod(v.period, ctx.now(), 'insights');
    const format = oneOf(v.format, FORMATS, 'format') ?? 'table';
    const result = await loadInsights(ctx, period);
    ctx.io.stdout(format === 'json' ? renderJson(result) : renderInsights(result));
  },
});

export function checkedPeriod(value: string | undefined, now: number, command: string): string {
  const period = value ?? periodKey('month', now);
  if (!parsePeriodKey(period) || Number.isNaN(Date.parse(period.length === 7 ? `${period}-01` : period))) {
    throw new UsageError(`--period must be a month (2026-11) or a day (2026-11-25); got '${period}'.`, command);
  }
  return period;
}

export async function loadInsights(ctx: RunContext, period: string): Promise<Insights> {
  const s = await ctx.store();
  const reader = new InsightReader({ client: s.client, table: s.tables.ledger });
  const [featureModels, prefixes, arms] = await Promise.all([reader.featureModels(period), reader.prefixes(period), reader.arms(period)]);
  return buildInsights(ctx.settings().config, period, ctx.now(), { featureModels, prefixes, arms });
}

const usd = (micros: number) => `$${usdFromMicros(micros)}`;

export function renderInsights(r: Insights): string {
  const parts: string[] = [`Insights for ${r.period} (UTC; ${r.daysObserved} of ${r.daysInMonth} days observed, monthly = scaled to the month)\n`];
  parts.push('\nCheaper models of the same capability, on each feature\'s own token mix\n');
  parts.push(
    r.cheaperModels.length === 0
      ? '  none found\n'
      : renderTable(
          [{ header: 'FEATURE' }, { header: 'CURRENT' }, { header: 'CANDIDATE' }, { header: 'REQUESTS', right: true }, { header: 'INPUT_TOK', right: true }, { header: 'OUTPUT_TOK', right: true }, { header: 'CURRENT_USD', right: true }, { header: 'CANDIDATE_USD', right: true }, { header: 'SAVING_USD', right: true }, { header: 'MONTHLY_USD', right: true }],
          r.cheaperModels.map((m) => [m.feature, m.current, m.candidateAlias ? `${m.candidate} (${m.candidateAlias})` : m.candidate, m.evidence.requests, m.evidence.inputTokens, m.evidence.outputTokens, usd(m.currentCostMicros), usd(m.candidateCostMicros), usd(m.savingMicros), usd(m.monthlySavingMicros)]),
        ),
  );
  parts.push('\nPrompt caching: long prefixes resent without cache reads\n');
  parts.push(
    r.caching.length === 0
      ? '  none found\n'
      : renderTable(
          [{ header: 'FEATURE' }, { header: 'MODEL' }, { header: 'PREFIXES', right: true }, { header: 'REQUESTS', right: true }, { header: 'PREFIX_TOK', right: true }, { header: 'UNCACHED_USD', right: true }, { header: 'CACHED_USD', right: true }, { header: 'SAVING_USD', right: true }, { header: 'MONTHLY_USD', right: true }],
          r.caching.map((c) => [c.feature, c.model, c.prefixes, c.requests, c.prefixTokens, usd(c.uncachedCostMicros), usd(c.cachedCostMicros), usd(c.savingMicros), usd(c.monthlySavingMicros)]),
        ),
  );
  parts.push('\nOutput caps far above use (every request reserves its cap against hard budgets)\n');
  parts.push(
    r.outputCaps.length === 0
      ? '  none found\n'
      : renderTable(
          [{ header: 'FEATURE' }, { header: 'MODEL' }, { header: 'REQUESTS', right: true }, { header: 'AVG_CAP', right: true }, { header: 'P95_OUT', right: true }, { header: 'P99_OUT', right: true }, { header: 'SUGGESTED_CAP', right: true }, { header: 'RESERVED/REQ', right: true }, { header: 'SUGGESTED/REQ', right: true }],
          r.outputCaps.map((c) => [c.feature, c.model, c.requests, c.averageCap, c.p95OutputTokens, c.p99OutputTokens, c.suggestedCap, usd(c.reservedPerRequestMicros), usd(c.suggestedReservedPerRequestMicros)]),
        ),
  );
  parts.push('\nExperiments (split aliases)\n');
  parts.push(
    r.experiments.length === 0
      ? '  none running\n'
      : renderTable(
          [{ header: 'MODEL' }, { header: 'ARM' }, { header: 'REQUESTS', right: true }, { header: 'COST_USD', right: true }, { header: 'USD/REQUEST', right: true }, { header: 'P50_MS', right: true }, { header: 'P95_MS', right: true }, { header: 'P50_TTFT_MS', right: true }, { header: 'ERRORS', right: true }, { header: 'FALLBACKS', right: true }],
          r.experiments.map((a) => [a.model, a.arm, a.requests, usd(a.costMicros), usd(a.costPerRequestMicros), a.p50LatencyMs ?? '-', a.p95LatencyMs ?? '-', a.p50TtftMs ?? '-', `${a.errorRatePercent}%`, `${a.fallbackRatePercent}%`]),
        ),
  );
  return parts.join('');
}
