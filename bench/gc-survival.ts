/**
 * What outlives a scavenge, path by path: V8's own per-collection numbers (`--trace-gc-nvp`) for the
 * processes that serve the same sequential streamed requests:
 *
 *   npx tsx bench/gc-survival.ts [paths=bare,floor-index,floor-record,floor-store,open,full] [requests=1500]
 *
 * - `bare`: the bare relay (bench/relay-floor.ts, `sse`);
 * - `floor-store`, `floor-index`, `floor-record`: the bare relay with the two store writes, or with only the
 *   index entry (before the first byte) or only the record (after the last byte)
 *   (bench/processes/floor-process.ts);
 * - `open`, `full`: the gateway without and with its gatekeeper (bench/processes/gateway-process.ts).
 *
 * Per path, over the measured requests (after 100 warm-up requests): scavenges, their median pause,
 * the young generation allocated between two scavenges, what survived (copied or promoted) and what was
 * promoted per scavenge (medians), promoted KB per request, and the scavenges' total time. A scavenge
 * costs about what survives it; what is promoted stays in the old generation until a mark-compact.
 * Knobs (environment): TOLLGATE_BENCH_NODE runs the measured processes on another Node (e.g. Lambda's 22);
 * GAP_MS, a pause after each request (objects that live a fixed time then survive fewer scavenges; a
 * chain of references from one request's objects to the next's does not care); CLOSE=1, a new connection
 * per gateway request; NON_STREAM=1, whole JSON answers; CHUNKS, content chunks per answer (default 32).
 */
import { execFileSync } from 'node:child_process';
import { benchChatBody } from './harness';
import { makeTarget, timedPost, type Target } from './http-client';
import { gatewayNode } from './processes/bundle-worker';
import { median } from './stats';
import { startFloorRelay, type FloorRelay } from './floor';
import { startTopology, type StoreFloorOptions, type Topology } from './topology';

const PATHS = ['bare', 'floor-index', 'floor-record', 'floor-store', 'open', 'full'] as const;
type PathName = (typeof PATHS)[number];

interface Scavenge {
  pause: number;
  allocated: number;
  survived: number;
  promoted: number;
}

/** One `--trace-gc-nvp` line of a scavenge (`gc=s`), or undefined. */
export function parseScavenge(line: string): Scavenge | undefined {
  // V8's form: space-separated name=value pairs after `[pid:isolate] N ms:`.
  if (!/\sgc=s(\s|$)/.test(line) || !/\spause=[0-9.]+/.test(line)) return undefined;
  const get = (k: string) => Number(new RegExp(`\\b${k}=([0-9.]+)`).exec(line)?.[1] ?? NaN);
  return { pause: get('pause'), allocated: get('allocated'), survived: get('new_space_survived'), promoted: get('promoted') };
}

async function measure(name: PathName, target: Target, model: string, lines: Scavenge[], n: number): Promise<string> {
  // NON_STREAM=1: whole JSON answers instead of streams.
  const stream = process.env.NON_STREAM !== '1';
  const body = benchChatBody(model, stream);
  for (let i = 0; i < 100; i++) await timedPost(target, body, stream);
  lines.length = 0;
  let ok = 0;
  const gapMs = Number(process.env.GAP_MS ?? 0);
  for (let i = 0; i < n; i++) {
    if ((await timedPost(target, body, stream)).status === 200) ok++;
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  const s = [...lines];
  const kb = (b: number) => (b / 1024).toFixed(0);
  const promoted = s.reduce((a, x) => a + x.promoted, 0);
  return (
    `| ${name} | ${ok}/${n} | ${s.length} | ${median(s.map((x) => x.pause)).toFixed(1)} | ${kb(median(s.map((x) => x.allocated)))} | ` +
    `${kb(median(s.map((x) => x.survived)))} | ${kb(median(s.map((x) => x.promoted)))} | ${(promoted / 1024 / Math.max(1, ok)).toFixed(2)} | ${s.reduce((a, x) => a + x.pause, 0).toFixed(0)} |`
  );
}

async function main(): Promise<void> {
  const wanted = (process.argv[2] ?? PATHS.join(',')).split(',') as PathName[];
  for (const w of wanted) if (!PATHS.includes(w)) throw new Error(`unknown path ${w}; one of ${PATHS.join(', ')}`);
  const n = Number(process.argv[3] ?? 1500);
  const nvp = ['--trace-gc-nvp'];
  const collected = new Map<PathName, Scavenge[]>(wanted.map((w) => [w, []]));
  const collect = (name: PathName) => (line: string) => {
    const s = parseScavenge(line);
    if (s) collected.get(name)!.push(s);
  };
  process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = [process.env.TOLLGATE_BENCH_GATEWAY_FLAGS ?? '', ...nvp].join(' ').trim();
  // One topology per gateway mode: each gateway's stdout goes to its own collector.
  const topos: Topology[] = [];
  const floors: FloorRelay[] = [];
  const rows: string[] = [];
  try {
    const base = await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: 20, chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 }, modes: [] });
    topos.push(base);
    for (const name of wanted) {
      let target: Target;
      let model = 'bench-model'; // the upstream's own name (the floors pass it through)
      if (name === 'open' || name === 'full') {
        const t = await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: 20, chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 }, modes: [name], onGatewayStdoutLine: collect(name) });
        topos.push(t);
        const gw = t.gateways[name]!;
        // CLOSE=1: a new connection per request (what one keep-alive connection carries from request to request is out).
        target = makeTarget(gw.url, process.env.CLOSE === '1' ? { ...gw.headers, connection: 'close' } : gw.headers);
        model = gw.models.latency;
      } else if (name === 'bare') {
        const floor = await startFloorRelay('sse', `${base.upstream.openai}/v1/chat/completions`, { execArgv: nvp, onStdoutLine: collect(name), execPath: gatewayNode() });
        floors.push(floor);
        target = makeTarget(floor.url);
      } else {
        const writes: StoreFloorOptions['writes'] = name === 'floor-index' ? 'index' : name === 'floor-record' ? 'record' : 'both';
        const floor = await base.startStoreFloor!({ writes, execArgv: nvp, onStdoutLine: collect(name) });
        target = makeTarget(floor.url);
      }
      rows.push(await measure(name, target, model, collected.get(name)!, n));
      console.error(`[gc-survival] ${name} done`);
    }
  } finally {
    for (const f of floors) await f.close();
    for (const t of topos.reverse()) await t.close();
  }
  const node = gatewayNode() ? execFileSync(gatewayNode()!, ['-v'], { encoding: 'utf8' }).trim() : process.version;
  console.log(`Measured processes on Node ${node}; ${n} sequential streamed requests per path, after 100 warm-up requests.`);
  console.log('');
  console.log('| path | ok | scavenges | pause p50 (ms) | allocated between scavenges (KB) | survived p50 (KB) | promoted p50 (KB) | promoted KB / request | scavenge time in all (ms) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
