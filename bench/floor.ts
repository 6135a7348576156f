/**
 * The floors the gateway is read against, each in a child process of its own (bench/processes/floor-process.ts,
 * run as a bundle under plain node): the bare relay (`writes: 'none'`), and the same relay with the request
 * path's store writes (`index`, `record` or `both`, against a store started by bench/topology.ts).
 */
import { join } from 'node:path';
import { bundleWorker } from './processes/bundle-worker';
import type { FloorStart, FloorWrites } from './processes/floor-process';
import { startWorker } from './processes/ipc';

/** A floor relay in front of the upstream; `npm run bench` runs them as paths. */
export interface FloorRelay {
  url: string;
  /** The relay process's pid (bench/profile-path.ts's STRACE=1). */
  pid: number;
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

export interface FloorOptions {
  /** Default none: the bare relay. */
  writes?: FloorWrites;
  /** The store the writes go to: its data folder (endpoint.json) and table. */
  store?: FloorStart['store'];
  execArgv?: string[];
  /** Another node binary (TOLLGATE_BENCH_NODE). */
  execPath?: string;
  /** The child's stdout line by line (e.g. V8's --trace-gc-nvp). */
  onStdoutLine?: (line: string) => void;
}

export async function startFloorRelay(mode: FloorStart['mode'], upstreamUrl: string, opts: FloorOptions = {}): Promise<FloorRelay> {
  const w = await startWorker(bundleWorker(join(__dirname, 'processes', 'floor-process.ts')), {
    bundled: true,
    execArgv: opts.execArgv,
    execPath: opts.execPath,
    onStdoutLine: opts.onStdoutLine,
  });
  try {
    const start: FloorStart = { upstream: upstreamUrl, mode, writes: opts.writes, store: opts.store };
    const url = await w.call<string>('start', start);
    return { url, pid: w.pid, cpuMicros: () => w.call<number>('cpu'), close: () => w.stop() };
  } catch (err) {
    await w.stop();
    throw err;
  }
}
