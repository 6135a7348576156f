/**
 * The HTML report: one self-contained file (no CDN, no network) with Chart.js inlined from node_modules,
 * the data as inline JSON, and a small page script drawing the charts. Tables are rendered here, so they
 * read without JavaScript. Animations are off: the page is complete as soon as it is loaded.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usdString } from '../../core/chargeback';
import type { ReportData } from './report-data';

/** Chart.js's UMD build, read at run time from the installed package. */
function chartJsSource(): string {
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

const esc = (s: string | number) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const usd = (micros: number) => `$${usdString(micros)}`;
/** Inline JSON that cannot close its script element. */
const inlineJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#2563eb', '#f97316', '#16a34a', '#dc2626', '#9333ea', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
  var usd = function (m) { return m / 1e6; };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  var money = { ticks: { callback: function (v) { return '$' + Number(v).toFixed(Number(v) < 1 ? 4 : 2); } } };

  var models = Object.keys(data.spendByModelPerDay);
  new Chart(document.getElementById('spend-per-day'), {
    type: 'bar',
    data: { labels: data.days, datasets: models.map(function (m, i) { return { label: m, data: data.spendByModelPerDay[m].map(usd), backgroundColor: palette[i % palette.length] }; }) },
    options: { responsive: false, scales: { x: { stacked: true }, y: Object.assign({ stacked: true, title: { display: true, text: 'USD' } }, money) } }
  });
  function bars(id, rows, color) {
    new Chart(document.getElementById(id), {
      type: 'bar',
      data: { labels: rows.map(function (r) { return r.value; }), datasets: [{ label: 'USD', data: rows.map(function (r) { return usd(r.costMicros); }), backgroundColor: color }] },
      options: { responsive: false, indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: money } }
    });
  }
  bars('by-feature', data.byFeature, '#2563eb');
  bars('top-customers', data.topCustomers, '#f97316');

  data.budgets.forEach(function (b, i) {
    var parts = data.period.slice(0, 7).split('-');
    var daysInMonth = new Date(Date.UTC(Number(parts[0]), Number(parts[1]), 0)).getUTCDate();
    var labels = []; for (var d = 1; d <= daysInMonth; d++) labels.push(d);
    var actual = labels.map(function () { return null; });
    b.cumulative.forEach(function (p) { actual[Number(p.day.slice(8)) - 1] = usd(p.micros); });
    var last = -1; actual.forEach(function (v, k) { if (v !== null) last = k; });
    var forecast = labels.map(function () { return null; });
    if (last >= 0) {
      var lastValue = actual[last];
      for (var k = last; k < daysInMonth; k++) forecast[k] = lastValue + (usd(b.projectedMicros) - lastValue) * (k - last) / Math.max(1, daysInMonth - 1 - last);
    }
    new Chart(document.getElementById('budget-' + i), {
      type: 'line',
      data: { labels: labels, datasets: [
        { label: 'spent', data: actual, borderColor: '#2563eb', backgroundColor: '#2563eb', spanGaps: true },
        { label: 'forecast', data: forecast, borderColor: '#f97316', borderDash: [6, 4], pointRadius: 0 },
        { label: 'limit', data: labels.map(function () { return usd(b.limitMicros); }), borderColor: '#dc2626', pointRadius: 0 }
      ] },
      options: { responsive: false, plugins: { title: { display: true, text: b.budget } }, scales: { y: money } }
    });
  });
  document.body.setAttribute('data-charts', 'ready');
})();
`;

function table(headers: string[], rows: Array<Array<string | number>>): string {
  if (rows.length === 0) return '<p class="none">None found.</p>';
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderReportHtml(data: ReportData): string {
  const i = data.insights;
  const recommendations = table(
    ['Feature', 'Current', 'Candidate', 'Requests', 'Current', 'Candidate', 'Saving', 'Monthly'],
    i.cheaperModels.map((m) => [m.feature, m.current, m.candidateAlias ? `${m.candidate} (${m.candidateAlias})` : m.candidate, m.evidence.requests, usd(m.currentCostMicros), usd(m.candidateCostMicros), usd(m.savingMicros), usd(m.monthlySavingMicros)]),
  );
  const caching = table(
    ['Feature', 'Model', 'Prefixes', 'Requests', 'Prefix tokens', 'Uncached', 'Cached', 'Monthly saving'],
    i.caching.map((c) => [c.feature, c.model, c.prefixes, c.requests, c.prefixTokens, usd(c.uncachedCostMicros), usd(c.cachedCostMicros), usd(c.monthlySavingMicros)]),
  );
  const caps = table(
    ['Feature', 'Model', 'Requests', 'Average cap', 'p95 output', 'Suggested cap', 'Reserved / request', 'Suggested'],
    i.outputCaps.map((c) => [c.feature, c.model, c.requests, c.averageCap, c.p95OutputTokens, c.suggestedCap, usd(c.reservedPerRequestMicros), usd(c.suggestedReservedPerRequestMicros)]),
  );
  const arms = table(
    ['Alias', 'Arm', 'Requests', 'USD / request', 'p50 ms', 'p95 ms', 'Errors', 'Fallbacks'],
    i.experiments.map((a) => [a.model, a.arm, a.requests, usd(a.costPerRequestMicros), a.p50LatencyMs ?? '-', a.p95LatencyMs ?? '-', `${a.errorRatePercent}%`, `${a.fallbackRatePercent}%`]),
  );
  const budgets = data.budgets.length
    ? data.budgets
        .map((b, k) => `<figure><canvas id="budget-${k}" width="560" height="260"></canvas><figcaption>${esc(b.budget)}: ${usd(b.spentMicros)} of ${usd(b.limitMicros)} spent, ${usd(b.projectedMicros)} forecast${b.exhaustsAt ? `, exhausted on ${esc(b.exhaustsAt.slice(0, 10))}` : ''}</figcaption></figure>`)
        .join('')
    : '<p class="none">No monthly budgets are set.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate report ${esc(data.period)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:1200px}
h1{margin:0 0 4px}h2{margin-top:28px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.kpis{display:flex;gap:24px;margin:12px 0}.kpi{background:#f3f4f6;border-radius:8px;padding:10px 16px}.kpi b{display:block;font-size:22px}
.row{display:flex;gap:24px;flex-wrap:wrap}figure{margin:0}figcaption{font-size:13px;color:#4b5563}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}th:first-child,td:first-child,th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}
.none{color:#6b7280}
</style></head>
<body>
<h1>Tollgate spend report</h1>
<div>Period ${esc(data.period)} (UTC) · generated ${esc(data.generatedAt)}</div>
<div class="kpis"><div class="kpi">Spend<b>${usd(data.totalMicros)}</b></div><div class="kpi">Requests<b>${esc(data.requests)}</b></div><div class="kpi">Potential monthly saving<b>${usd(i.cheaperModels.reduce((m, r) => Math.max(m, r.monthlySavingMicros), 0) + i.caching.reduce((s, c) => s + c.monthlySavingMicros, 0))}</b></div></div>
<h2>Spend per day, by model</h2>
<canvas id="spend-per-day" width="1100" height="320"></canvas>
<div class="row">
<figure><h2>By feature</h2><canvas id="by-feature" width="540" height="280"></canvas></figure>
<figure><h2>Top customers</h2><canvas id="top-customers" width="540" height="280"></canvas></figure>
</div>
<h2>Budgets: burn-down and forecast</h2>
<div class="row">${budgets}</div>
<h2>Recommendations: cheaper models of the same capability</h2>${recommendations}
<h2>Prompt caching</h2>${caching}
<h2>Output caps</h2>${caps}
<h2>Experiments</h2>${arms}
<script type="application/json" id="report-data">${inlineJson(data)}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
