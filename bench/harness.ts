/**
 * The benchmark's core: the same workload sent directly to an upstream double and through the gateway,
 * interleaved so machine noise lands on both, then reported as differences and ratios. `run.ts` is the
 * CLI around it; the smoke test runs it in a tiny in-process mode.
 */
import type { LambdaCallsSection } from './lambda-calls';
import { gatewayNode, gatewayRunner, type GatewayRunner } from './processes/bundle-worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayMode } from './gateway/under-test';
import { makeTarget, runConcurrent, timedPost, type Target, type Timing } from './http-client';
import { startFloorRelay, type FloorRelay } from './floor';
import { summarizeProfiles } from './profile';
import { round, summarize, type Summary } from './stats';
import { startTopology, type GatewayHandle, type Topology } from './topology';
import type { UpstreamOptions } from './upstream/upstreams';

export interface BenchOptions {
  label: 'full' | 'quick' | 'smoke';
  topology: Topology['kind'];
  upstream: UpstreamOptions;
  /** Requests per path in each concurrency-1 scenario. */
  sequentialRequests: number;
  /** Requests per path in each high-concurrency scenario, sent in batches of `batch`. */
  concurrentRequests: number;
  concurrency: number;
  /** Concurrency levels of the latency scenarios besides 1 (default: `concurrency` only). */
  concurrencyLevels?: number[];
  batch: number;
  warmupRequests: number;
  /** Long-stream repetitions per adapter and path. */
  relayRepetitions: number;
  /** Requests (per kind) used to count DynamoDB calls and CPU per request. */
  accountingRequests: number;
  /** Also run a gateway without a gatekeeper, to split gateway cost from store round trips. */
  includeOpenGateway: boolean;
  /**
   * Also run a bare Node relay (bench/relay-floor.ts, `sse` mode: parses and re-serialises each SSE event,
   * nothing else) as a path in the same interleaving: the floor the targets are read against.
   */
  includeFloorRelay?: boolean;
  cpuProfile: boolean;
  log?: (line: string) => void;
}

export type PathName = 'direct' | 'gateway' | 'gateway-open' | 'relay-floor' | 'relay-floor-store';

export interface PathResult {
  ttft: Summary;
  total: Summary;
  errors: number;
  /** Completed requests per second over the batches (high-concurrency scenarios). */
  throughputRps?: number;
  /**
   * CPU seconds per wall second over those batches (high concurrency, processes topology): of the process
   * serving this path (1.0 = one core busy the whole time: a single Node process is saturated), and of
   * the store process (the full gateway's path; it shares this machine's cores).
   */
  busyCores?: { server?: number; store?: number };
}

export interface Added {
  ttftMs: { p50: number; p90: number; p99: number };
  totalMs: { p50: number; p90: number; p99: number };
  ttftRatioP50: number;
  totalRatioP50: number;
}

export interface LatencyScenario {
  name: string;
  stream: boolean;
  concurrency: number;
  paths: Partial<Record<PathName, PathResult>>;
  /** Gateway path minus the direct path, percentile by percentile. */
  added: Partial<Record<Exclude<PathName, 'direct'>, Added>>;
}

export interface RelayResult {
  adapter: string;
  chunks: number;
  directMs: Summary;
  gatewayMs: Summary;
  directChunksPerSec: number;
  gatewayChunksPerSec: number;
  addedUsPerChunk: number;
}

export interface Accounting {
  kind: 'stream' | 'non-stream';
  requests: number;
  dynamo: {
    perRequest: Record<string, number>;
    totalPerRequest: number;
    /** Of the total: calls made on the request path, and off it (batched flushes, lease top-ups), per request. */
    requestPathPerRequest: number;
    /** Of those, writes (the target: at most 2); the rest are reads (a key or policy cache refresh). */
    requestPathWritesPerRequest?: number;
    backgroundPerRequest: number;
    readUnitsPerRequest: number;
    writeUnitsPerRequest: number;
  };
  gatewayCpuMsPerRequest: number;
  /** The same requests through the gateway without its gatekeeper (no store, no metering), when it runs. */
  openGatewayCpuMsPerRequest?: number;
  /** The same requests through the bare relay (streaming only), when it runs. */
  floorRelayCpuMsPerRequest?: number;
  /** The same through the bare relay that also makes the request path's two store writes (streaming only). */
  floorStoreRelayCpuMsPerRequest?: number;
  /** CPU of the store process (dynalite, standing in for DynamoDB) during the full gateway's requests. */
  storeCpuMsPerRequest?: number;
}

export interface BenchReport {
  meta: {
    label: BenchOptions['label'];
    date: string;
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    topology: Topology['kind'];
    composition: string;
    /** How the gateway processes ran: their esbuild bundle under node (as Lambda runs it), or tsx (bench/processes/bundle-worker.ts). */
    gatewayRunner?: GatewayRunner;
    /** Node version of the gateway processes, when it is not this process's (TOLLGATE_BENCH_NODE). */
    gatewayNode?: string;
    upstream: UpstreamOptions;
    concurrency: number;
    durationSeconds: number;
    /** 1-minute load average at the start and end: other work on the machine shows up here. */
    loadAverage: { start: number; end: number };
  };
  latency: LatencyScenario[];
  relay: RelayResult[];
  accounting: Accounting[];
  memory: { gatewayMaxRssMb: number; gatewayRssAfterStartMb: number; gatewayHeapUsedAfterGcMb: number };
  /** Filled by run.ts (bundle + cold init need esbuild and child processes). */
  bundle?: BundleSection;
  /** Filled by run.ts: DynamoDB calls per invocation of the Lambda handler (bench/lambda-calls.ts). */
  lambda?: LambdaCallsSection;
  profile?: ProfileSection;
}

export interface BundleSection {
  entries: {
    entry: string;
    bytes: number;
    gzipBytes: number;
    sourceMapBytes: number;
    largestModules: { module: string; bytes: number }[];
    /** Chunks shipped next to the bundle and loaded lazily (lib/lazy-chunks.ts). */
    lazyChunks?: { module: string; bytes: number; gzipBytes: number }[];
  }[];
  coldInit: {
    runs: number;
    requireMs: Summary;
    processMs: Summary;
    /** require() of the lazy chunk after the bundle (the gateway does it after a container's first response). */
    lazyChunkMs?: { module: string; ms: Summary };
    /** require() of each other lazy chunk a Lambda container may load, after the bundle, and when that happens. */
    firstUseChunksMs?: { module: string; firstUse: string; ms: Summary }[];
    entry: string;
    note?: string;
  };
}

export interface ProfileSection {
  profiledRequests: string;
  totalSampledMs: number;
  byArea: { area: string; selfPct: number }[];
  topFunctions: { fn: string; where: string; selfPct: number }[];
}

const MESSAGES = [{ role: 'user', content: 'Write one short sentence about toll bridges.' }];

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  const modes: GatewayMode[] = opts.includeOpenGateway ? ['full', 'open'] : ['full'];
  log(`starting ${opts.topology} topology (${modes.join(', ')})`);
  const topo = await startTopology({ kind: opts.topology, upstream: opts.upstream, modes });
  let floor: FloorRelay | undefined;
  let storeFloor: FloorRelay | undefined;
  const profileDir = opts.cpuProfile && topo.kind === 'processes' ? mkdtempSync(join(tmpdir(), 'tollgate-cpuprof-')) : undefined;
  let report: BenchReport;
  try {
    const full = topo.gateways.full as GatewayHandle;
    const afterStart = await full.stats({ gc: true });
    if (opts.includeFloorRelay) {
      floor = await startFloorRelay('sse', `${topo.upstream.openai}/v1/chat/completions`, { execPath: gatewayNode() });
      storeFloor = await topo.startStoreFloor?.();
    }
    const paths = buildPaths(topo, full, floor, storeFloor);

    log('warming up');
    for (const stream of [true, false]) {
      for (const p of paths) await runConcurrent(opts.warmupRequests, 8, () => timedPost(p.target, p.body(stream), stream));
    }

    // The CPU profile is taken in a pass of its own at the end: V8's sampler interrupts the process every
    // 250 µs, which roughly doubled the full gateway's CPU per request and slowed its latency when it ran
    // during the measured phases (the open gateway, never profiled, was not slowed: an unfair comparison).
    const latency: LatencyScenario[] = [];
    for (const concurrency of [1, ...(opts.concurrencyLevels ?? [opts.concurrency])]) {
      for (const stream of [true, false]) {
        const name = `${stream ? 'stream' : 'non-stream'}, c=${concurrency}`;
        log(`latency: ${name}`);
        latency.push(await latencyScenario(name, paths, stream, concurrency, opts));
      }
    }

    log('accounting: DynamoDB calls and CPU per request');
    const openPath = paths.find((p) => p.name === 'gateway-open');
    const storeCpu = topo.storeCpuMicros?.bind(topo);
    const accounting = [
      await account(full, paths[1], true, opts, storeCpu, topo.gateways.open, openPath),
      await account(full, paths[1], false, opts, storeCpu, topo.gateways.open, openPath),
    ];
    const floorPath = paths.find((p) => p.name === 'relay-floor');
    if (floor && floorPath) accounting[0].floorRelayCpuMsPerRequest = await cpuPerRequest(floor.cpuMicros, floorPath, true, opts.accountingRequests);
    const storeFloorPath = paths.find((p) => p.name === 'relay-floor-store');
    if (storeFloor && storeFloorPath) accounting[0].floorStoreRelayCpuMsPerRequest = await cpuPerRequest(storeFloor.cpuMicros, storeFloorPath, true, opts.accountingRequests);

    log('relay: long streams');
    const relay: RelayResult[] = [];
    for (const [adapter, model] of Object.entries(full.models.long)) {
      relay.push(await relayScenario(adapter, topo, full, model, opts));
    }

    await full.idle();
    const end = await full.stats({ gc: true });
    if (profileDir) {
      log('profile: the same sequential and concurrent requests again, CPU profiler on');
      await full.profileStart?.();
      for (const stream of [true, false]) {
        for (let i = 0; i < opts.accountingRequests; i++) await timedPost(paths[1].target, paths[1].body(stream), stream);
        await runConcurrent(opts.batch, 16, () => timedPost(paths[1].target, paths[1].body(stream), stream));
      }
      await full.idle();
      await full.profileStop?.(profileDir);
    }
    report = {
      meta: {
        label: opts.label,
        date: new Date().toISOString(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        topology: topo.kind,
        composition: full.composition,
        gatewayRunner: topo.kind === 'processes' ? gatewayRunner() : 'tsx',
        ...(full.node && full.node !== process.version ? { gatewayNode: full.node } : {}),
        upstream: opts.upstream,
        concurrency: opts.concurrency,
        durationSeconds: 0,
        loadAverage: { start: round(loadAtStart, 2), end: round(loadavg()[0], 2) },
      },
      latency,
      relay,
      accounting,
      memory: {
        gatewayMaxRssMb: round(end.maxRssKb / 1024, 1),
        gatewayRssAfterStartMb: round(afterStart.rssBytes / 2 ** 20, 1),
        gatewayHeapUsedAfterGcMb: round(end.heapUsedBytes / 2 ** 20, 1),
      },
    };
  } finally {
    await floor?.close();
    await topo.close(); // the store floor stops with it
    log(`topology closed after ${round((Date.now() - started) / 1000, 1)} s`);
  }
  if (profileDir) {
    report.profile = summarizeProfiles(profileDir, 'a pass of its own after the measured phases (profiling slows what it measures): sequential and c=16 requests, streamed and not; full gateway process');
    rmSync(profileDir, { recursive: true, force: true });
  }
  return report;
}

interface PathDef {
  name: PathName;
  target: Target;
  body(stream: boolean): string;
  /** CPU time so far of the process that serves this path, and of the store it calls (when measurable). */
  cpu?: () => Promise<number>;
  storeCpu?: () => Promise<number>;
}

/** The bench's chat request. Streams ask for usage as a metered client would, so every path carries the same chunks. */
export function benchChatBody(model: string, stream: boolean): string {
  return JSON.stringify({ model, messages: MESSAGES, max_tokens: 64, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) });
}

function buildPaths(topo: Topology, full: GatewayHandle, floor?: FloorRelay, storeFloor?: FloorRelay): PathDef[] {
  const body = (model: string) => (stream: boolean) => benchChatBody(model, stream);
  const paths: PathDef[] = [
    { name: 'direct', target: makeTarget(`${topo.upstream.openai}/v1/chat/completions`, { authorization: 'Bearer sk-bench-upstream' }), body: body('bench-model') },
    { name: 'gateway', target: makeTarget(full.url, full.headers), body: body(full.models.latency), cpu: full.cpuMicros?.bind(full), storeCpu: topo.storeCpuMicros?.bind(topo) },
  ];
  const open = topo.gateways.open;
  if (open) paths.push({ name: 'gateway-open', target: makeTarget(open.url, open.headers), body: body(open.models.latency), cpu: open.cpuMicros?.bind(open) });
  if (floor) paths.push({ name: 'relay-floor', target: makeTarget(floor.url), body: body('bench-model'), cpu: floor.cpuMicros.bind(floor) });
  if (storeFloor) {
    paths.push({ name: 'relay-floor-store', target: makeTarget(storeFloor.url), body: body('bench-model'), cpu: storeFloor.cpuMicros.bind(storeFloor), storeCpu: topo.storeCpuMicros?.bind(topo) });
  }
  return paths;
}

/** Sequential: one request per path in rotating order. Concurrent: one batch per path in rotating order. */
async function latencyScenario(name: string, paths: PathDef[], stream: boolean, concurrency: number, opts: BenchOptions): Promise<LatencyScenario> {
  const timings = new Map<PathName, Timing[]>(paths.map((p) => [p.name, []]));
  const wall = new Map<PathName, number>(paths.map((p) => [p.name, 0]));
  const busy = new Map<PathName, { server: number; store: number }>(paths.map((p) => [p.name, { server: 0, store: 0 }]));
  const send = (p: PathDef) => timedPost(p.target, p.body(stream), stream);
  if (concurrency === 1) {
    for (let i = 0; i < opts.sequentialRequests; i++) {
      for (let k = 0; k < paths.length; k++) {
        const p = paths[(i + k) % paths.length];
        timings.get(p.name)?.push(await send(p));
      }
    }
  } else {
    const rounds = Math.max(1, Math.ceil(opts.concurrentRequests / opts.batch));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < paths.length; k++) {
        const p = paths[(r + k) % paths.length];
        const [server0, store0] = [await p.cpu?.(), await p.storeCpu?.()];
        const { results, wallMs } = await runConcurrent(opts.batch, concurrency, () => send(p));
        const [server1, store1] = [await p.cpu?.(), await p.storeCpu?.()];
        const b = busy.get(p.name);
        if (b && server0 !== undefined && server1 !== undefined) b.server += server1 - server0;
        if (b && store0 !== undefined && store1 !== undefined) b.store += store1 - store0;
        timings.get(p.name)?.push(...results);
        wall.set(p.name, (wall.get(p.name) ?? 0) + wallMs);
      }
    }
  }
  const result: LatencyScenario = { name, stream, concurrency, paths: {}, added: {} };
  for (const p of paths) {
    const ts = timings.get(p.name) ?? [];
    const ok = ts.filter((t) => t.status === 200);
    result.paths[p.name] = {
      ttft: summarize(ok.map((t) => t.ttftMs)),
      total: summarize(ok.map((t) => t.totalMs)),
      errors: ts.length - ok.length,
      throughputRps: concurrency > 1 ? round((ok.length / (wall.get(p.name) ?? 1)) * 1000, 1) : undefined,
      busyCores: concurrency > 1 && p.cpu ? busyCores(busy.get(p.name), wall.get(p.name), !!p.storeCpu) : undefined,
    };
  }
  const direct = result.paths.direct as PathResult;
  for (const p of paths) {
    if (p.name === 'direct') continue;
    const r = result.paths[p.name] as PathResult;
    result.added[p.name] = {
      ttftMs: diff(r.ttft, direct.ttft),
      totalMs: diff(r.total, direct.total),
      ttftRatioP50: round(r.ttft.p50 / direct.ttft.p50),
      totalRatioP50: round(r.total.p50 / direct.total.p50),
    };
  }
  return result;
}

/** CPU microseconds over wall milliseconds, as cores busy. */
function busyCores(cpu: { server: number; store: number } | undefined, wallMs: number | undefined, withStore: boolean): PathResult['busyCores'] {
  if (!cpu || !wallMs) return undefined;
  return { server: round(cpu.server / 1000 / wallMs, 2), ...(withStore ? { store: round(cpu.store / 1000 / wallMs, 2) } : {}) };
}

function diff(a: Summary, b: Summary) {
  return { p50: round(a.p50 - b.p50), p90: round(a.p90 - b.p90), p99: round(a.p99 - b.p99) };
}

/**
 * CPU per request of `n` sequential requests, bracketed by one process's CPU counter (a gateway's, after its
 * background work settles; the bare relay's). `strict`: a failed request fails the measurement instead of
 * being left out of the count (bench/idle-tax.ts).
 */
export async function cpuPerRequest(
  cpuMicros: () => Promise<number>,
  path: Pick<PathDef, 'target' | 'body'>,
  stream: boolean,
  n: number,
  idle?: () => Promise<void>,
  strict = false,
): Promise<number> {
  await idle?.();
  const before = await cpuMicros();
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await timedPost(path.target, path.body(stream), stream)).status === 200) ok++;
  await idle?.();
  if (strict && ok < n) throw new Error(`${n - ok} of ${n} requests failed`);
  return round(((await cpuMicros()) - before) / 1000 / Math.max(1, ok));
}

/**
 * Sequential requests through the full gateway, bracketed by its counters, divided by the count; and the
 * same through the gateway without a gatekeeper when it runs (the relay's own CPU, no store at all).
 */
async function account(
  full: GatewayHandle,
  path: PathDef,
  stream: boolean,
  opts: BenchOptions,
  storeCpu?: () => Promise<number>,
  open?: GatewayHandle,
  openPath?: PathDef,
): Promise<Accounting> {
  // Steady state: a gateway that sat idle through other phases has given its leases back, and its first
  // requests would open them again on the request path (that is cold-start cost, not per-request cost).
  for (let i = 0; i < 10; i++) await timedPost(path.target, path.body(stream), stream);
  await full.idle();
  const before = await full.stats();
  const storeBefore = await storeCpu?.();
  let ok = 0;
  for (let i = 0; i < opts.accountingRequests; i++) {
    if ((await timedPost(path.target, path.body(stream), stream)).status === 200) ok++;
  }
  await full.idle();
  const after = await full.stats();
  const storeAfter = await storeCpu?.();
  const n = Math.max(1, ok);
  const perRequest: Record<string, number> = {};
  let total = 0;
  for (const [cmd, count] of Object.entries(after.dynamo?.byCommand ?? {})) {
    const d = count - (before.dynamo?.byCommand[cmd] ?? 0);
    if (d > 0) {
      perRequest[cmd] = round(d / n, 2);
      total += d;
    }
  }
  const background = (after.dynamo?.background ?? 0) - (before.dynamo?.background ?? 0);
  const delta = (k: 'backgroundReads' | 'writes') => (after.dynamo?.[k] ?? 0) - (before.dynamo?.[k] ?? 0);
  const requestPathWrites = delta('writes') - (background - delta('backgroundReads'));
  return {
    kind: stream ? 'stream' : 'non-stream',
    requests: ok,
    dynamo: {
      perRequest,
      totalPerRequest: round(total / n, 2),
      requestPathPerRequest: round((total - background) / n, 2),
      requestPathWritesPerRequest: round(requestPathWrites / n, 2),
      backgroundPerRequest: round(background / n, 2),
      readUnitsPerRequest: round(((after.dynamo?.readUnits ?? 0) - (before.dynamo?.readUnits ?? 0)) / n, 2),
      writeUnitsPerRequest: round(((after.dynamo?.writeUnits ?? 0) - (before.dynamo?.writeUnits ?? 0)) / n, 2),
    },
    // Includes the store client and the HTTP server; sequential requests, so little else runs.
    gatewayCpuMsPerRequest: round((after.cpuMicros - before.cpuMicros) / 1000 / n),
    ...(storeBefore !== undefined && storeAfter !== undefined ? { storeCpuMsPerRequest: round((storeAfter - storeBefore) / 1000 / n) } : {}),
    ...(open && openPath && open.mode === 'open' ? { openGatewayCpuMsPerRequest: await cpuPerRequest(async () => (await open.stats()).cpuMicros, openPath, stream, opts.accountingRequests, open.idle) } : {}),
  };
}

async function relayScenario(adapter: string, topo: Topology, full: GatewayHandle, model: string, opts: BenchOptions): Promise<RelayResult> {
  const direct = directLongStream(adapter, topo);
  const gateway = { target: makeTarget(full.url, full.headers), body: JSON.stringify({ model, messages: MESSAGES, stream: true }) };
  const d: number[] = [];
  const g: number[] = [];
  // One unmeasured pair warms the JIT on this path.
  for (let i = -1; i < opts.relayRepetitions; i++) {
    const order = i % 2 === 0 ? [direct, gateway] : [gateway, direct];
    for (const p of order) {
      const t = await timedPost(p.target, p.body, true);
      if (t.status !== 200) throw new Error(`relay ${adapter}: status ${t.status}`);
      if (i >= 0) (p === direct ? d : g).push(t.totalMs);
    }
  }
  const chunks = opts.upstream.longChunks;
  const dm = summarize(d);
  const gm = summarize(g);
  return {
    adapter,
    chunks,
    directMs: dm,
    gatewayMs: gm,
    directChunksPerSec: round(chunks / (dm.p50 / 1000), 0),
    gatewayChunksPerSec: round(chunks / (gm.p50 / 1000), 0),
    addedUsPerChunk: round(((gm.p50 - dm.p50) * 1000) / chunks, 2),
  };
}

/** The same long stream read straight from the double, in that upstream's own wire format. */
function directLongStream(adapter: string, topo: Topology): { target: Target; body: string } {
  switch (adapter) {
    case 'openai-compatible':
      return {
        target: makeTarget(`${topo.upstream.long['openai-compatible']}/v1/chat/completions`),
        // include_usage as the adapter sends it, so both paths carry the same chunks.
        body: JSON.stringify({ model: 'bench-model', messages: MESSAGES, stream: true, stream_options: { include_usage: true } }),
      };
    case 'anthropic':
      return {
        target: makeTarget(`${topo.upstream.long.anthropic}/v1/messages`, { 'x-api-key': 'sk-bench-upstream', 'anthropic-version': '2023-06-01' }),
        body: JSON.stringify({ model: 'claude-bench', max_tokens: 100_000, messages: MESSAGES, stream: true }),
      };
    case 'bedrock':
      // The double does not check SigV4; the gateway's SDK client signs anyway (that cost is the gateway's).
      return {
        target: makeTarget(`${topo.upstream.long.bedrock}/model/bench.bedrock-model/converse-stream`),
        body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: MESSAGES[0].content }] }] }),
      };
    default:
      throw new Error(`no direct long-stream path for adapter ${adapter}`);
  }
}

export function withDuration(report: BenchReport, startedAt: number): BenchReport {
  return { ...report, meta: { ...report.meta, durationSeconds: round((Date.now() - startedAt) / 1000, 1) } };
}
