/** `tollgate report --html report.html`: the month's spend, budgets and insights as one self-contained page. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { positionals, UsageError } from '../args';
import { defineCommand } from '../command';
import { renderReportHtml } from '../report/html-report';
import { gatherReport } from '../report/report-data';
import { checkedPeriod } from './insights';

export const report = defineCommand({
  name: 'report',
  summary: 'write an HTML report: spend per day by model, features, customers, budget burn-down, recommendations',
  help: `Usage: tollgate report --html <file> [--period <yyyy-mm|yyyy-mm-dd>]

One self-contained HTML file (no CDN, no network: the chart library is inlined): spend per day stacked
by model, spend by feature and by top customers, each monthly budget's burn-down with its forecast line,
and the recommendations of \`tollgate insights\`.

  --html <file>                 where to write the report
  --period <period>             2026-11 or 2026-11-25; default: the current month`,
  options: { html: { type: 'string' }, period: { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'report');
    if (!v.html) throw new UsageError('--html <file> is required.', 'report');
    const period = checkedPeriod(v.period, ctx.now(), 'report');
    const path = resolve(v.html);
    writeFileSync(path, renderReportHtml(await gatherReport(ctx, period)));
    ctx.io.stdout(`${path}\n`);
  },
});
