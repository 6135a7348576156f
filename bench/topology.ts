/**
 * Where the pieces run. `processes`: upstream doubles and each gateway in their own Node process (the
 * client stays in this one), so each has its own event loop as in production and the gateway's peak
 * RSS and CPU profile are its own. `in-process`: everything here, for the fast smoke test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayUnderTest, type DynamoCounts, type GatewayMode, type GatewayUnderTest } from './gateway/under-test';
import { startFloorRelay, type FloorRelay } from './floor';
import { LOCAL_TABLES } from '../lambda/local/embedded-dynamo';
import { bundleWorker, gatewayNode, gatewayRunner } from './processes/bundle-worker';
import { startWorker, type Worker } from './processes/ipc';
import { startUpstreams, type UpstreamOptions, type UpstreamUrls } from './upstream/upstreams';

export interface GatewayStats {
  maxRssKb: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** User + system CPU time of the gateway process so far (in-process: the whole process). */
  cpuMicros: number;
  dynamo?: DynamoCounts;
}

export interface GatewayHandle {
  mode: GatewayMode;
  url: string;
  headers: Record<string, string>;
  composition: string;
  models: GatewayUnderTest['models'];
  /** The gateway process's Node version (processes topology; TOLLGATE_BENCH_NODE may make it another). */
  node?: string;
  /** Counters and memory; `gc`: after a forced full collection (for the heap reading; never before a CPU window). */
  stats(opts?: { gc?: boolean }): Promise<GatewayStats>;
  /** CPU time of the gateway process so far, as a bare number (processes topology). */
  cpuMicros?(): Promise<number>;
  idle(): Promise<void>;
  /** CPU profile of this gateway process (processes topology only); stop writes a .cpuprofile into `dir`. */
  profileStart?(): Promise<void>;
  profileStop?(dir: string): Promise<void>;
}

export interface Topology {
  kind: 'processes' | 'in-process';
  upstream: UpstreamUrls;
  gateways: Partial<Record<GatewayMode, GatewayHandle>>;
  /** CPU time of the store process so far (processes topology: dynalite in its own process). */
  storeCpuMicros?(): Promise<number>;
  /**
   * Starts the bare relay with the request path's two store writes (bench/floor.ts) against this
   * topology's upstream and store (processes topology); it stops with the topology.
   */
  startStoreFloor?(opts?: StoreFloorOptions): Promise<FloorRelay>;
  /** The store's data folder (processes topology): its endpoint.json lets another process attach. */
  storeDataDir?: string;
  close(): Promise<void>;
}

export interface TopologyOptions {
  kind: Topology['kind'];
  upstream: UpstreamOptions;
  modes: GatewayMode[];
  /** Processes topology: the gateway processes' stdout line by line (their request log, or V8 traces) instead of discarding it. */
  onGatewayStdoutLine?: (line: string) => void;
}

/** How the floor with the store runs (bench/processes/floor-process.ts). */
export interface StoreFloorOptions {
  /** Which of the two writes it makes; default both. */
  writes?: 'both' | 'index' | 'record';
  execArgv?: string[];
  onStdoutLine?: (line: string) => void;
}

const here = __dirname;

export async function startTopology(opts: TopologyOptions): Promise<Topology> {
  return opts.kind === 'in-process' ? inProcess(opts) : processes(opts);
}

async function inProcess(opts: TopologyOptions): Promise<Topology> {
  const up = await startUpstreams(opts.upstream);
  const gateways: Topology['gateways'] = {};
  const running: GatewayUnderTest[] = [];
  for (const mode of opts.modes) {
    const gw = await startGatewayUnderTest({ mode, upstream: up.urls, telemetry: false });
    running.push(gw);
    gateways[mode] = {
      mode,
      url: gw.url,
      headers: gw.headers,
      composition: gw.composition,
      models: gw.models,
      stats: async () => ({ maxRssKb: process.resourceUsage().maxRSS, rssBytes: process.memoryUsage().rss, heapUsedBytes: process.memoryUsage().heapUsed, cpuMicros: process.cpuUsage().user + process.cpuUsage().system, dynamo: gw.dynamoCounts() }),
      idle: () => gw.idle(),
    };
  }
  return {
    kind: 'in-process',
    upstream: up.urls,
    gateways,
    async close() {
      for (const gw of running) await gw.close();
      await up.close();
    },
  };
}

async function processes(opts: TopologyOptions): Promise<Topology> {
  const workers: Worker[] = [];
  const floors: FloorRelay[] = [];
  try {
    const upstreamWorker = await startWorker(join(here, 'processes/upstream-process.ts'));
    workers.push(upstreamWorker);
    const upstream = await upstreamWorker.call<UpstreamUrls>('start', opts.upstream);
    const storeDataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-store-'));
    const storeWorker = await startWorker(join(here, 'processes/store-process.ts'));
    workers.unshift(storeWorker);
    await storeWorker.call<string>('start', storeDataDir);
    const gateways: Topology['gateways'] = {};
    for (const mode of opts.modes) {
      // stdout carries the request log and EMF metrics (written, as in Lambda, then discarded); --expose-gc
      // lets `stats` report the heap after a collection.
      // TOLLGATE_BENCH_GATEWAY_FLAGS: extra Node/V8 flags for the gateway processes (e.g. --trace-gc,
      // --no-turbo-inlining for a profile attributed function by function), for profile-path experiments.
      const extra = process.env.TOLLGATE_BENCH_GATEWAY_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
      const script = join(here, 'processes/gateway-process.ts');
      const bundled = gatewayRunner() === 'bundle';
      const w = await startWorker(bundled ? bundleWorker(script) : script, {
        quietStdout: true,
        onStdoutLine: opts.onGatewayStdoutLine,
        execArgv: ['--expose-gc', ...extra],
        bundled,
        execPath: gatewayNode(),
      });
      workers.unshift(w); // gateways stop before the upstream
      const started = await w.call<Pick<GatewayHandle, 'url' | 'headers' | 'composition' | 'models' | 'node'>>('start', { mode, upstream, storeDataDir });
      gateways[mode] = {
        mode,
        ...started,
        stats: (o) => w.call<GatewayStats>('stats', o),
        cpuMicros: () => w.call<number>('cpu'),
        idle: () => w.call<void>('idle'),
        profileStart: () => w.call<void>('profile-start'),
        profileStop: (dir) => w.call<void>('profile-stop', dir),
      };
    }
    return {
      kind: 'processes',
      upstream,
      gateways,
      storeCpuMicros: () => storeWorker.call<number>('cpu'),
      storeDataDir,
      async startStoreFloor(floor: StoreFloorOptions = {}) {
        const relay = await startFloorRelay('sse', `${upstream.openai}/v1/chat/completions`, {
          writes: floor.writes ?? 'both',
          store: { dataDir: storeDataDir, table: LOCAL_TABLES.ledger },
          execPath: gatewayNode(),
          execArgv: floor.execArgv,
          onStdoutLine: floor.onStdoutLine,
        });
        floors.push(relay);
        return relay;
      },
      async close() {
        for (const f of floors) await f.close(); // before the store and the upstream they use
        for (const w of workers) await w.stop();
        rmSync(storeDataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const w of workers) await w.stop();
    throw err;
  }
}
