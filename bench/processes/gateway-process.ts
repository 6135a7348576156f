/**
 * Child process: one gateway under test. Reports its peak RSS, CPU time and DynamoDB request counts on
 * request, and CPU-profiles itself (V8 sampling profiler over the inspector) between `profile-start`
 * and `profile-stop`, so start-up, module compilation and warm-up stay out of the profile.
 */
import { startGatewayUnderTest, type GatewayUnderTest, type GatewayUnderTestOptions } from '../gateway/under-test';
import { REQUEST_START_CHANNEL, RESPONSE_HEAD_CHANNEL } from '../../lambda/core/http1-pool';
import { processCpuMicros, serveWorker } from './ipc';
import { profileStart, profileStop } from './self-profile';

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

serveWorker(
  {
    start: async (payload) => {
      gateway = await startGatewayUnderTest(payload as GatewayUnderTestOptions);
      const { url, headers, composition, models } = gateway;
      return { url, headers, composition, models, node: process.version };
    },
    // A full collection only when asked (the heap readings): forced before a CPU window, it made V8 throw
    // away optimised code that had seen objects it freed ("weak objects" deoptimisations), so the window
    // paid for compiling it again, which the floors (never collected) did not: `STATS_GC=1` with
    // bench/profile-path.ts shows the difference.
    stats: async (payload) => {
      if ((payload as { gc?: boolean } | undefined)?.gc) (globalThis as { gc?: () => void }).gc?.();
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
    'profile-start': async () => profileStart(),
    'profile-stop': async (dir) => profileStop(dir as string, 'gateway'),
  },
  async () => gateway?.close(),
);
