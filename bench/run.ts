/**
 * `npm run bench` (full, a few minutes) and `npm run bench -- --quick` (under a minute): latency,
 * throughput, relay cost, DynamoDB calls, memory, bundle size, cold init and a CPU profile, written to
 * bench/results/latest.{md,json}. `--no-profile`, `--no-bundle`, `--no-lambda` and `--out <dir>` adjust a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureBundles } from './bundle';
import { runBench, withDuration, type BenchOptions } from './harness';
import { measureLambdaCalls } from './lambda-calls';
import { toMarkdown } from './report';

const FULL: BenchOptions = {
  label: 'full',
  topology: 'processes',
  upstream: { firstByteDelayMs: 20, chunks: 32, longChunks: 5_000 },
  sequentialRequests: 250,
  // The full gateway at c=64 is bound by dynalite (see the report), so batches stay modest.
  concurrentRequests: 512,
  concurrency: 64,
  concurrencyLevels: [16, 64],
  batch: 128,
  warmupRequests: 200,
  relayRepetitions: 10,
  // 600: a window long enough to hold the gateway's own full collections at their own rate (one every
  // several hundred requests here), now that no collection is forced before it (2026-12-03).
  accountingRequests: 600,
  includeOpenGateway: true,
  includeFloorRelay: true,
  cpuProfile: true,
};

const QUICK: BenchOptions = {
  ...FULL,
  label: 'quick',
  sequentialRequests: 40,
  concurrentRequests: 128,
  batch: 64,
  warmupRequests: 30,
  relayRepetitions: 2,
  accountingRequests: 20,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(__dirname, 'results');
  const opts: BenchOptions = { ...(quick ? QUICK : FULL), cpuProfile: !args.includes('--no-profile'), log: (l) => console.error(`[bench] ${l}`) };
  const startedAt = Date.now();
  const report = await runBench(opts);
  if (!args.includes('--no-bundle')) {
    console.error('[bench] bundle size and cold init');
    report.bundle = await measureBundles({ coldRuns: quick ? 3 : 15 });
  }
  if (!args.includes('--no-lambda')) {
    console.error('[bench] DynamoDB calls per Lambda invocation');
    // 1,000 invocations: the warm half (501-1,000) is a container past most of V8's compile warm-up (its CPU
    // per invocation: 6.83 ms over invocations 101-200 in the 22:49 record, 3.98 ms on Node 20 and 3.59 on
    // Node 22 over 1,001-2,000 by `npx tsx bench/lambda-calls.ts 2000`, with TOLLGATE_LAMBDA_NODE naming
    // each node; 2026-12-02).
    report.lambda = await measureLambdaCalls({ invocations: quick ? 20 : 1_000 });
  }
  const final = withDuration(report, startedAt);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), JSON.stringify(final, null, 2) + '\n');
  const md = toMarkdown(final);
  writeFileSync(join(outDir, 'latest.md'), md + '\n');
  console.log(md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
