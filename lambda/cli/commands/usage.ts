/** `tollgate usage --by <dimension> --period <day|month>`: spend, tokens and requests from the day rollups. */
import { parsePeriodKey, periodKey } from '../../core/budgets';
import { USAGE_DIMENSIONS } from '../../core/metering';
import type { UsageRow } from '../../store/usage-store';
import { oneOf, positionals, positiveInt, UsageError } from '../args';
import { defineCommand } from '../command';
import { renderCsv, renderJson, renderTable, usdFromMicros, type Cell, type Column } from '../format';
import { usageReader } from '../stores';

const FORMATS = ['table', 'csv', 'json'] as const;

const COUNTS = ['requests', 'errors', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'costMicros'] as const;
type Totals = Record<(typeof COUNTS)[number], number>;

export const usage = defineCommand({
  name: 'usage',
  summary: 'report spend, tokens and requests by feature, key, team, customer, model or environment',
  help: `Usage: tollgate usage --by <dimension> [--period <yyyy-mm|yyyy-mm-dd>] [--format table|csv|json] [--top <n>]

Usage of a UTC month or day, grouped by one dimension, most expensive first. Cost is in USD with
6 decimals (exact: the store counts integer micro-dollars). Requests without a team, customer, feature
or environment are grouped under '-'.

  --by <dimension>              ${USAGE_DIMENSIONS.join(' | ')}
  --period <period>             2026-11 (a month) or 2026-11-25 (a day); default: the current month
  --format <format>             table (default), csv or json
  --top <n>                     only the n most expensive rows

Examples:
  tollgate usage --by feature --period 2026-11
  tollgate usage --by key --period 2026-11-25 --format csv > usage.csv
  tollgate usage --by team --format json | jq '.rows[0]'`,
  options: { by: { type: 'string' }, period: { type: 'string' }, format: { type: 'string' }, top: { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'usage');
    const dimension = oneOf(v.by, USAGE_DIMENSIONS, 'by');
    if (!dimension) throw new UsageError(`--by is required: one of ${USAGE_DIMENSIONS.join(', ')}.`, 'usage');
    const period = v.period ?? periodKey('month', ctx.now());
    if (!parsePeriodKey(period) || Number.isNaN(Date.parse(period.length === 7 ? `${period}-01` : period))) {
      throw new UsageError(`--period must be a month (2026-11) or a day (2026-11-25); got '${period}'.`, 'usage');
    }
    const format = oneOf(v.format, FORMATS, 'format') ?? 'table';
    const top = positiveInt(v.top, 'top');

    const all = await (await usageReader(ctx)).usageBy(dimension, period);
    const rows = top === undefined ? all : all.slice(0, top);
    const total = totals(all);
    const withKeyColumns = dimension === 'key';

    if (format === 'json') {
      ctx.io.stdout(
        renderJson({
          dimension,
          period,
          rows: rows.map((r) => ({ ...pick(r), costUsd: Number(usdFromMicros(r.costMicros)), ...(withKeyColumns ? { keyName: r.keyName ?? null, team: r.team ?? null } : {}) })),
          total: { ...total, costUsd: Number(usdFromMicros(total.costMicros)) },
        }),
      );
      return;
    }
    const columns: Column[] = [
      { header: dimension },
      ...(withKeyColumns ? [{ header: 'key_name' }, { header: 'team' }] : []),
      { header: 'cost_usd', right: true },
      { header: 'requests', right: true },
      { header: 'errors', right: true },
      { header: 'input_tokens', right: true },
      { header: 'output_tokens', right: true },
      { header: 'cache_read_tokens', right: true },
      { header: 'cache_write_tokens', right: true },
    ];
    const cells = (label: string, extra: Cell[], t: Totals): Cell[] => [
      label,
      ...extra,
      usdFromMicros(t.costMicros),
      t.requests,
      t.errors,
      t.inputTokens,
      t.outputTokens,
      t.cacheReadTokens,
      t.cacheWriteTokens,
    ];
    const body = rows.map((r) => cells(r.value, withKeyColumns ? [r.keyName ?? '', r.team ?? ''] : [], pick(r)));
    if (format === 'csv') {
      ctx.io.stdout(renderCsv(columns.map((c) => c.header), body));
      return;
    }
    if (all.length === 0) {
      ctx.io.stdout(`No usage by ${dimension} in ${period}.\n`);
      return;
    }
    const footer = cells('TOTAL', withKeyColumns ? ['', ''] : [], total);
    ctx.io.stdout(`Usage by ${dimension}, ${period} (UTC)${top !== undefined && all.length > top ? `, top ${top} of ${all.length}` : ''}\n\n`);
    ctx.io.stdout(renderTable(columns.map((c) => ({ ...c, header: c.header.toUpperCase() })), [...body, footer]));
  },
});

function pick(r: UsageRow): Totals & { value: string } {
  return {
    value: r.value,
    costMicros: r.costMicros,
    requests: r.requests,
    errors: r.errors,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
  };
}

function totals(rows: ReadonlyArray<UsageRow>): Totals {
  const t: Totals = { requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costMicros: 0 };
  for (const r of rows) for (const k of COUNTS) t[k] += r[k];
  return t;
}
