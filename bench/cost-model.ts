/**
 * The gateway's AWS cost from measured counts (bench/results/latest.json) and list prices (us-east-1,
 * stated below with the date they were checked). `npx tsx bench/cost-model.ts [latest.json]` prints
 * the Markdown tables used in docs/cost.md; `--generation-seconds 8 --memory-mb 1024` change the workload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport } from './harness';

/** us-east-1 list prices, checked 2026-11-25 (AWS pricing pages and announcements; see docs/cost.md). */
export const PRICES = {
  apiGatewayRestPerMillion: 3.5,
  lambdaRequestsPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334,
  dynamoWritePerMillionWru: 0.625,
  dynamoReadPerMillionRru: 0.125,
  dynamoStorageGbMonth: 0.25,
  cloudwatchMetricMonth: 0.3,
  cloudwatchLogsIngestGb: 0.5,
  cloudwatchAlarmMetricMonth: 0.1,
  cloudwatchDashboardMonth: 3,
  secretsManagerSecretMonth: 0.4,
  secretsManagerPer10kCalls: 0.05,
} as const;

export interface Workload {
  /** Wall time of one streamed generation; Lambda bills it all, waiting included. */
  generationSeconds: number;
  memoryMb: number;
  /** Time after the stream ends until settlement is written (the handler waits for it). */
  settlementMs: number;
  /** Request log + EMF bytes per request, plus Lambda's START/END/REPORT lines. */
  logBytesPerRequest: number;
  /** Distinct CloudWatch metric series (docs/observability.md formula; its example is 146). */
  metricSeries: number;
  alarmMetrics: number;
  /** Usage record size and retention (TTL) for storage. */
  recordBytes: number;
  recordRetentionDays: number;
}

export const DEFAULT_WORKLOAD: Workload = {
  generationSeconds: 8,
  memoryMb: 1024,
  settlementMs: 25,
  // The request's one stdout line (log + EMF) of the bench's streamed request, 1,594 B by
  // `npx tsx bench/log-bytes.ts` (2026-12-02; 1,742 B in three lines before), plus ~350 B of Lambda's
  // START/END/REPORT lines.
  logBytesPerRequest: 1_594 + 350,
  metricSeries: 146,
  alarmMetrics: 14,
  recordBytes: 700,
  recordRetentionDays: 90,
};

export interface CostLine {
  item: string;
  perMillionUsd: number;
  basis: string;
}

export function perRequestCosts(r: Pick<BenchReport, 'accounting' | 'lambda'>, w: Workload): CostLine[] {
  const stream = r.accounting.find((a) => a.kind === 'stream') ?? r.accounting[0];
  // What a Lambda container spends per invocation when the run measured it (bench/lambda-calls.ts: the
  // local server's writes plus the lease flush after each invocation), else the local server's counts.
  const onLambda = r.lambda?.steady;
  const wru = onLambda?.writeUnits ?? stream?.dynamo.writeUnitsPerRequest ?? 0;
  const rru = onLambda?.readUnits ?? stream?.dynamo.readUnitsPerRequest ?? 0;
  const measured = onLambda ? 'measured per Lambda invocation' : 'measured on the local server';
  const gbSeconds = (w.memoryMb / 1024) * (w.generationSeconds + w.settlementMs / 1000);
  return [
    { item: 'API Gateway REST (streaming)', perMillionUsd: PRICES.apiGatewayRestPerMillion, basis: '1 request (< 10 MB streamed)' },
    { item: 'Lambda requests', perMillionUsd: PRICES.lambdaRequestsPerMillion, basis: '1 invocation' },
    {
      item: 'Lambda duration (arm64)',
      perMillionUsd: gbSeconds * PRICES.lambdaArmGbSecond * 1e6,
      basis: `${w.generationSeconds} s generation + ${w.settlementMs} ms settlement at ${w.memoryMb} MB = ${gbSeconds.toFixed(3)} GB-s`,
    },
    { item: 'DynamoDB writes (on-demand)', perMillionUsd: wru * PRICES.dynamoWritePerMillionWru, basis: `${wru} WRU per request (${measured})` },
    { item: 'DynamoDB reads (on-demand)', perMillionUsd: rru * PRICES.dynamoReadPerMillionRru, basis: `${rru} RRU per request (${measured}; key cache warm)` },
    {
      item: 'DynamoDB storage (usage records)',
      perMillionUsd: ((w.recordBytes * 1e6) / 1e9) * PRICES.dynamoStorageGbMonth * (w.recordRetentionDays / 30),
      basis: `${w.recordBytes} B record kept ${w.recordRetentionDays} days (steady state, per million requests a month)`,
    },
    {
      item: 'CloudWatch Logs ingestion',
      perMillionUsd: ((w.logBytesPerRequest * 1e6) / 2 ** 30) * PRICES.cloudwatchLogsIngestGb,
      basis: `${w.logBytesPerRequest} B per request (request log + EMF + Lambda report lines)`,
    },
  ];
}

export interface FixedLine {
  item: string;
  monthlyUsd: number;
  basis: string;
}

export function fixedMonthly(w: Workload): FixedLine[] {
  return [
    { item: 'Secrets Manager (provider keys)', monthlyUsd: PRICES.secretsManagerSecretMonth, basis: '1 secret; fetches cached 300 s per container' },
    { item: 'CloudWatch custom metrics', monthlyUsd: w.metricSeries * PRICES.cloudwatchMetricMonth, basis: `${w.metricSeries} series with data (0 when idle)` },
    { item: 'CloudWatch alarms', monthlyUsd: w.alarmMetrics * PRICES.cloudwatchAlarmMetricMonth, basis: `${w.alarmMetrics} alarm metrics (anomaly alarm counts 3)` },
    { item: 'CloudWatch dashboard', monthlyUsd: PRICES.cloudwatchDashboardMonth, basis: '1 dashboard ($0 within the account’s first 3)' },
    { item: 'Sweeper (every 5 min)', monthlyUsd: 8_640 * (PRICES.lambdaRequestsPerMillion / 1e6 + 0.25 * 0.3 * PRICES.lambdaArmGbSecond) + 8_640 * 8 * 0.5 * (PRICES.dynamoReadPerMillionRru / 1e6), basis: '8,640 runs × (256 MB × ~0.3 s + 8 lease-shard queries)' },
  ];
}

/**
 * Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS Lambda docs), so at 256 MB a
 * function gets ~14 % of a core. The comparison assumes the gateway's work is CPU-bound and that one core
 * here is worth one Graviton vCPU: at a share s, the CPU per request measured here takes 1/s as long, and so
 * does the added time to first token measured here (an over-estimate: part of it is the loopback hop).
 */
export const FULL_VCPU_MB = 1_769;
/**
 * How Lambda enforces the share over time is not documented. Observed from outside (pwrdrvr/lambda-dispatch
 * issue #246, 2024-2025): a quota per 20 ms period, as a cgroup CPU limit works; CPU use under the share in a
 * period runs at full speed, and use beyond it pauses the function until the period ends. Under that model a
 * short burst (a request's work before its first byte, on a container that mostly waits on the model) is not
 * stretched at all while it fits one period's quota (share x 20 ms), and costs a whole period's wait per
 * quota it overruns.
 */
export const QUOTA_PERIOD_MS = 20;

/** Wall time of `cpuMs` of CPU work begun at a period's start under a quota of `share` x `periodMs` per period. */
export function quotaWallMs(cpuMs: number, share: number, periodMs = QUOTA_PERIOD_MS): number {
  const quota = share * periodMs;
  if (share >= 1 || cpuMs <= quota) return cpuMs;
  const spent = Math.ceil(cpuMs / quota) - 1; // periods whose quota is used up, each waited out to its end
  return spent * periodMs + (cpuMs - spent * quota);
}
export const MEMORY_SIZES_MB = [256, 512, 1024] as const;
/** Added time to first token at c=1, streaming (issue 13). */
export const LATENCY_TARGETS = { p50Ms: 2, p99Ms: 5 };

/** The gateway's added time to first token at c=1, streaming, p50 and p99 (never below 0). */
function addedTtftC1(r: Pick<BenchReport, 'latency'>): { p50: number; p99: number } {
  const c1 = r.latency.find((s) => s.stream && s.concurrency === 1)?.added.gateway?.ttftMs;
  return { p50: Math.max(0, c1?.p50 ?? 0), p99: Math.max(0, c1?.p99 ?? 0) };
}

export interface MemoryOption {
  memoryMb: number;
  cpuShare: number;
  /** Measured CPU per request, stretched by the CPU share. */
  cpuMsPerRequest: number;
  addedTtftP50Ms: number;
  addedTtftP99Ms: number;
  meetsLatencyTargets: boolean;
  /**
   * The added time to first token under the quota model (QUOTA_PERIOD_MS): the one measured here, plus the
   * pause the quota imposes on the burst before the first byte (the container's measured CPU before its
   * first response write when the run measured it, else the added time itself taken as CPU).
   */
  quotaTtftP50Ms: number;
  quotaTtftP99Ms: number;
  /** Whether the p99 burst overruns one period's quota (a pause) at this size. */
  quotaThrottled: boolean;
  /** Variable cost per million requests for the workload's generation time. */
  perMillionUsd: number;
}

export function memoryOptions(r: Pick<BenchReport, 'accounting' | 'latency' | 'lambda'>, w: Workload = DEFAULT_WORKLOAD): MemoryOption[] {
  const cpuMs = memoryCpuBasis(r).cpuMs;
  const added = addedTtftC1(r);
  const burst = r.lambda?.firstWriteCpuMs ?? added;
  return MEMORY_SIZES_MB.map((memoryMb) => {
    const cpuShare = Math.min(1, memoryMb / FULL_VCPU_MB);
    const stretch = 1 / cpuShare;
    const addedTtftP50Ms = added.p50 * stretch;
    const addedTtftP99Ms = added.p99 * stretch;
    // Billed: the generation, the settlement wait, and the gateway's own CPU time at this share.
    const workload = { ...w, memoryMb, settlementMs: w.settlementMs + cpuMs * stretch };
    const perMillionUsd = perRequestCosts(r, workload).reduce((sum, l) => sum + l.perMillionUsd, 0);
    return {
      memoryMb,
      cpuShare,
      cpuMsPerRequest: cpuMs * stretch,
      addedTtftP50Ms,
      addedTtftP99Ms,
      meetsLatencyTargets: addedTtftP50Ms <= LATENCY_TARGETS.p50Ms && addedTtftP99Ms <= LATENCY_TARGETS.p99Ms,
      quotaTtftP50Ms: added.p50 + quotaWallMs(burst.p50, cpuShare) - burst.p50,
      quotaTtftP99Ms: added.p99 + quotaWallMs(burst.p99, cpuShare) - burst.p99,
      quotaThrottled: quotaWallMs(burst.p99, cpuShare) > burst.p99,
      perMillionUsd,
    };
  });
}

/**
 * The CPU per request the memory sizes are priced on: the Lambda container's per warm invocation when the
 * run measured it (bench/lambda-calls.ts: the handler's bundle with the runtime's invocation loop, the
 * response stream and the per-invocation lease flush, what a container spends), else the local server's.
 */
export function memoryCpuBasis(r: Pick<BenchReport, 'accounting' | 'lambda'>): { cpuMs: number; source: 'lambda container' | 'local server' } {
  if (r.lambda?.cpuMsPerInvocation !== undefined) return { cpuMs: r.lambda.cpuMsPerInvocation, source: 'lambda container' };
  const stream = r.accounting.find((a) => a.kind === 'stream') ?? r.accounting[0];
  return { cpuMs: stream?.gatewayCpuMsPerRequest ?? 0, source: 'local server' };
}

/**
 * Under the quota model, the cheapest size at which the added time to first token measured here is not
 * stretched at all (the p99 burst before the first byte fits one period's quota); undefined when none does.
 */
export function quotaFullSpeedMemory(options: ReadonlyArray<MemoryOption>): MemoryOption | undefined {
  return [...options].sort((a, b) => a.perMillionUsd - b.perMillionUsd).find((o) => !o.quotaThrottled);
}

/** The cheapest memory size that keeps the latency targets; the largest compared when none does. */
export function recommendedMemory(options: ReadonlyArray<MemoryOption>): MemoryOption {
  const ok = options.filter((o) => o.meetsLatencyTargets).sort((a, b) => a.perMillionUsd - b.perMillionUsd);
  return ok[0] ?? options[options.length - 1];
}

export function memoryMarkdown(r: Pick<BenchReport, 'accounting' | 'latency' | 'lambda'>, w: Workload = DEFAULT_WORKLOAD): string {
  const options = memoryOptions(r, w);
  const pick = recommendedMemory(options);
  const out = [
    `| memory | CPU share (1 vCPU = ${FULL_VCPU_MB} MB) | ${memoryCpuBasis(r).source === 'lambda container' ? 'container CPU ms / invocation' : 'gateway CPU ms / request'} at that share | added TTFT p50 / p99 at that share (ms) | keeps ≤ ${LATENCY_TARGETS.p50Ms} / ≤ ${LATENCY_TARGETS.p99Ms} ms | added TTFT p50 / p99, quota per ${QUOTA_PERIOD_MS} ms period (ms) | $ per million requests (${w.generationSeconds} s generation) |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const o of options) {
    out.push(
      `| ${o.memoryMb} MB${o === pick ? ' (cheapest that keeps the targets, or largest)' : ''} | ${(o.cpuShare * 100).toFixed(1)} % | ${o.cpuMsPerRequest.toFixed(2)} | ${o.addedTtftP50Ms.toFixed(2)} / ${o.addedTtftP99Ms.toFixed(2)} | ${o.meetsLatencyTargets ? 'yes' : 'no'} | ${o.quotaTtftP50Ms.toFixed(2)} / ${o.quotaTtftP99Ms.toFixed(2)} | ${money(o.perMillionUsd)} |`,
    );
  }
  const fullSpeed = quotaFullSpeedMemory(options);
  out.push(
    '',
    fullSpeed
      ? `Under the quota model, ${fullSpeed.memoryMb} MB is the cheapest size at which the added time to first token measured here is not stretched (the p99 burst before the first byte, ${burstLabel(r)}, fits the ${(fullSpeed.cpuShare * QUOTA_PERIOD_MS).toFixed(1)} ms quota of one period).`
      : `Under the quota model, no size compared runs the burst before the first byte (${burstLabel(r)}) at full speed.`,
  );
  return out.join('\n');
}

/** What the quota model's burst is: the container's measured CPU before its first write, or the added time. */
function burstLabel(r: Pick<BenchReport, 'latency' | 'lambda'>): string {
  const measured = r.lambda?.firstWriteCpuMs;
  if (measured) return `${measured.p99.toFixed(2)} ms of the container's CPU at p99`;
  return `${addedTtftC1(r).p99.toFixed(2)} ms, the added time at p99 taken as CPU`;
}

function money(v: number): string {
  return v >= 100 ? `$${Math.round(v).toLocaleString('en-US')}` : v >= 1 ? `$${v.toFixed(2)}` : `$${v.toFixed(3)}`;
}

export function costMarkdown(r: BenchReport, w: Workload = DEFAULT_WORKLOAD): string {
  const lines = perRequestCosts(r, w);
  const perMillion = lines.reduce((s, l) => s + l.perMillionUsd, 0);
  const fixed = fixedMonthly(w);
  const idle = fixed.filter((f) => !f.item.startsWith('CloudWatch custom')).reduce((s, f) => s + f.monthlyUsd, 0);
  const withMetrics = fixed.reduce((s, f) => s + f.monthlyUsd, 0);
  const out: string[] = [];
  out.push(`Inputs: ${r.meta.label} bench run of ${r.meta.date}; workload ${w.generationSeconds} s streamed generation at ${w.memoryMb} MB.`, '');
  out.push('| per request item | $ per million requests | basis |', '|---|---|---|');
  for (const l of lines) out.push(`| ${l.item} | ${money(l.perMillionUsd)} | ${l.basis} |`);
  out.push(`| **total, variable** | **${money(perMillion)}** | $${(perMillion / 1e6).toFixed(6)} per request |`, '');
  out.push('| fixed monthly item | $ / month | basis |', '|---|---|---|');
  for (const f of fixed) out.push(`| ${f.item} | ${money(f.monthlyUsd)} | ${f.basis} |`);
  out.push(`| **idle (no traffic)** | **${money(idle)}** | custom metrics cost nothing without data |`);
  out.push(`| **fixed with traffic** | **${money(withMetrics)}** | |`, '');
  out.push('Memory sizes compared on the measured CPU per request and added time to first token:', '', memoryMarkdown(r, w), '');
  out.push('| requests / month | Tollgate AWS cost / month | LLM spend at $0.01 / request | OpenRouter 5.5% fee on that spend | LiteLLM on ECS (published baseline) |');
  out.push('|---|---|---|---|---|');
  for (const n of [10_000, 100_000, 1_000_000, 10_000_000]) {
    const tollgate = withMetrics + (perMillion * n) / 1e6;
    const spend = n * 0.01;
    out.push(`| ${n.toLocaleString('en-US')} | ${money(tollgate)} | ${money(spend)} | ${money(spend * 0.055)} | $378 + scaling |`);
  }
  return out.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => a.endsWith('.json')) ?? join(__dirname, 'results', 'latest.json');
  const num = (flag: string, fallback: number) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : fallback);
  const w: Workload = { ...DEFAULT_WORKLOAD, generationSeconds: num('--generation-seconds', 8), memoryMb: num('--memory-mb', 1024) };
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  console.log(costMarkdown(report, w));
}

if (require.main === module) main();
