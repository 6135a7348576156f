/**
 * Child process: one gateway under test. Reports its peak RSS, CPU time and DynamoDB request counts on
 * request, and CPU-profiles itself (V8 sampling profiler over the inspector) between `profile-start`
 * and `profile-stop`, so start-up, module compilation and warm-up stay out of the profile.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { SourceMap } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startGatewayUnderTest, type GatewayUnderTest, type GatewayUnderTestOptions } from '../gateway/under-test';
import { REQUEST_START_CHANNEL, RESPONSE_HEAD_CHANNEL } from '../../lambda/core/http1-pool';
import { processCpuMicros, serveWorker } from './ipc';

let gateway: GatewayUnderTest | undefined;

/**
 * TOLLGATE_BENCH_TRACE=1 (bench/profile-path.ts, sequential requests only): per request, the time from
 * the gateway's receiving the request to its upstream request starting, and from the upstream's answer
 * headers to the gateway's answer headers (its first byte to the client), from Node's HTTP diagnostics
 * channels and ServerResponse.writeHead.
 */
const trace = { arrived: 0, upstreamAt: 0, upstreamHeadersAt: 0, preUpstream: [] as number[], upstreamToClient: [] as number[], gcPauses: [] as number[], gcKinds: [] as string[] };
let loopDelay: import('node:perf_hooks').IntervalHistogram | undefined;
if (process.env.TOLLGATE_BENCH_TRACE === '1') {
  // GC pauses and event-loop delay too, to tell a slow request's cause: the gateway's own code, a
  // collection, or a loop blocked by something else (background work, the store when it is in-process).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ph = require('node:perf_hooks') as typeof import('node:perf_hooks');
  new ph.PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // stats() forces a full collection (global.gc) before reading memory: not the gateway's own.
      const flags = (e as { detail?: { flags?: number } }).detail?.flags ?? 0;
      if (flags & ph.constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) continue;
      trace.gcPauses.push(e.duration);
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      trace.gcKinds.push(kind === ph.constants.NODE_PERFORMANCE_GC_MINOR ? 'scavenge' : kind === ph.constants.NODE_PERFORMANCE_GC_MAJOR ? 'mark-compact' : kind === ph.constants.NODE_PERFORMANCE_GC_INCREMENTAL ? 'incremental marking' : 'weak callbacks');
    }
  }).observe({ entryTypes: ['gc'] });
  loopDelay = ph.monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const dc = require('node:diagnostics_channel') as typeof import('node:diagnostics_channel');
  const { ServerResponse } = require('node:http') as typeof import('node:http');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const now = () => performance.now();
  dc.subscribe('http.server.request.start', () => (trace.arrived = now()));
  // Only the upstream's requests: the store's (DynamoDB's `POST /`) are not the upstream call. Node's
  // channels for a build whose calls go through node:http, the gateway's own client's (same moments) after.
  const upstreamRequest = (m: unknown) => ((m as { request?: { path?: string }; path?: string }).request?.path ?? (m as { path?: string }).path ?? '/') !== '/';
  const requestStarted = (m: unknown) => {
    if (trace.arrived && !trace.upstreamAt && upstreamRequest(m)) {
      trace.upstreamAt = now();
      trace.preUpstream.push(trace.upstreamAt - trace.arrived);
    }
  };
  const headersArrived = (m: unknown) => {
    if (trace.upstreamAt && !trace.upstreamHeadersAt && upstreamRequest(m)) trace.upstreamHeadersAt = now();
  };
  dc.subscribe('http.client.request.start', requestStarted);
  dc.subscribe('http.client.response.finish', headersArrived);
  dc.subscribe(REQUEST_START_CHANNEL, requestStarted);
  dc.subscribe(RESPONSE_HEAD_CHANNEL, headersArrived);
  const writeHead = ServerResponse.prototype.writeHead;
  ServerResponse.prototype.writeHead = function (this: InstanceType<typeof ServerResponse>, ...args: unknown[]) {
    if (trace.upstreamHeadersAt) trace.upstreamToClient.push(now() - trace.upstreamHeadersAt);
    trace.arrived = trace.upstreamAt = trace.upstreamHeadersAt = 0;
    return (writeHead as (...a: unknown[]) => InstanceType<typeof ServerResponse>).apply(this, args);
  } as typeof writeHead;
}
let session: Session | undefined;

/** The trace since the last call (stats() is called before and after a measured phase). */
function takeTrace() {
  const out = {
    preUpstream: trace.preUpstream.splice(0),
    upstreamToClient: trace.upstreamToClient.splice(0),
    gcPauses: trace.gcPauses.splice(0),
    gcKinds: trace.gcKinds.splice(0),
    loopDelayMs: loopDelay ? { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 } : undefined,
  };
  loopDelay?.reset();
  return out;
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))));
}

interface Frame {
  callFrame: { url: string; lineNumber: number; columnNumber: number };
}
interface CpuProfile {
  nodes: Frame[];
}
interface HeapProfile {
  head: Frame & { children: HeapProfile['head'][] };
}

function framesOf(profile: CpuProfile | HeapProfile): Frame[] {
  if ('nodes' in profile) return profile.nodes;
  const frames: Frame[] = [];
  const stack = [profile.head];
  for (let node = stack.pop(); node; node = stack.pop()) {
    frames.push(node);
    stack.push(...node.children);
  }
  return frames;
}

/**
 * Run from its bundle (bench/processes/ipc.ts), this process's code is one file: each frame of the bundle
 * is pointed back at its source file and line through the bundle's source map, so that profiles (CPU and
 * allocation) read by file (bench/profile.ts) as they do when tsx runs the sources.
 */
function bySourceFile<P extends CpuProfile | HeapProfile>(profile: P): P {
  const mapFile = `${__filename}.map`;
  if (!existsSync(mapFile)) return profile;
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  const bundleUrl = pathToFileURL(__filename).href;
  for (const { callFrame: f } of framesOf(profile)) {
    if (f.url !== bundleUrl && f.url !== __filename) continue;
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined) continue;
    const source = entry.originalSource.startsWith('file://') ? entry.originalSource : pathToFileURL(resolve(dirname(__filename), entry.originalSource)).href;
    Object.assign(f, { url: source, lineNumber: entry.originalLine ?? 0, columnNumber: entry.originalColumn ?? 0 });
  }
  return profile;
}

serveWorker(
  {
    start: async (payload) => {
      gateway = await startGatewayUnderTest(payload as GatewayUnderTestOptions);
      const { url, headers, composition, models } = gateway;
      return { url, headers, composition, models, node: process.version };
    },
    stats: async () => {
      (globalThis as { gc?: () => void }).gc?.();
      return {
      maxRssKb: process.resourceUsage().maxRSS,
      rssBytes: process.memoryUsage().rss,
      heapUsedBytes: process.memoryUsage().heapUsed,
      cpuMicros: processCpuMicros(),
      cpuSplit: process.cpuUsage(),
      pid: process.pid,
      dynamo: gateway?.dynamoCounts(),
      ...(process.env.TOLLGATE_BENCH_TRACE === '1' ? { trace: takeTrace() } : {}),
      };
    },
    idle: async () => gateway?.idle(),
    'profile-start': async () => {
      session = new Session();
      session.connect();
      if (process.env.TOLLGATE_BENCH_ALLOC === '1' || process.env.TOLLGATE_BENCH_ALLOC === 'survivors') {
        // Allocation sampling instead of CPU sampling: where the bytes the young generation collects come from
        // (`survivors`: only what outlived a scavenge, i.e. what the young generation has to copy).
        const survivors = process.env.TOLLGATE_BENCH_ALLOC === 'survivors';
        await post(session, 'HeapProfiler.enable');
        await post(session, 'HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors });
        return;
      }
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: 250 });
      await post(session, 'Profiler.start');
    },
    'profile-stop': async (dir) => {
      if (!session) return;
      if (process.env.TOLLGATE_BENCH_ALLOC === '1' || process.env.TOLLGATE_BENCH_ALLOC === 'survivors') {
        const { profile } = await post<{ profile: unknown }>(session, 'HeapProfiler.stopSampling');
        session.disconnect();
        session = undefined;
        writeFileSync(join(dir as string, `gateway-${process.pid}.heapprofile`), JSON.stringify(bySourceFile(profile as HeapProfile)));
        return;
      }
      const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(join(dir as string, `gateway-${process.pid}.cpuprofile`), JSON.stringify(bySourceFile(profile as CpuProfile)));
    },
  },
  async () => gateway?.close(),
);
