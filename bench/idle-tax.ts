/**
 * What the upstream's silence costs in CPU: the same sequential streamed requests on each path (the full
 * gateway, the gateway without gatekeeper, the bare relay, the bare relay + the 2 store writes), once
 * against an upstream double that answers at once and once against the bench's, which waits 20 ms before
 * its first byte (`npm run bench`'s latency workload):
 *
 *   npx tsx bench/idle-tax.ts [requests=200] [rounds=3]
 *
 * The work per request is the same either way (same request, same 32 chunks, same store writes); what
 * differs is that with the delay every process sits idle for 20 ms in the middle of each request and
 * resumes cold. Two processes topologies run side by side (one per upstream double, each with its own
 * store process), and the two delays alternate block by block (which goes first alternates too), so a
 * burst of machine noise hits both. Prints CPU per request per path and delay (median of the rounds) and
 * the ratio delayed / at once: the share of `npm run bench`'s CPU per request that is resuming after the
 * wait rather than the work itself.
 *
 * First, before any topology starts, the machine's own price of waking up: this process runs a timer loop
 * that does nothing, turns back to back and turns 20 ms apart, and prints its CPU per turn for both.
 */
import { startFloorRelay, type FloorRelay } from './floor';
import { benchChatBody, cpuPerRequest } from './harness';
import { makeTarget } from './http-client';
import { median } from './stats';
import { startTopology, type Topology } from './topology';

interface Path {
  name: string;
  url: string;
  headers?: Record<string, string>;
  model: string;
  cpuMicros(): Promise<number>;
  idle?(): Promise<void>;
}

const DELAYS = [0, 20] as const;

/** The four paths of one topology; the bare relay is not the topology's own, so it goes to `floors` to be closed. */
async function paths(topo: Topology, floors: FloorRelay[]): Promise<Path[]> {
  const out: Path[] = [];
  for (const mode of ['full', 'open'] as const) {
    const gw = topo.gateways[mode];
    if (!gw?.cpuMicros) throw new Error(`no ${mode} gateway process`);
    out.push({ name: mode === 'full' ? 'gateway (full)' : 'gateway, no gatekeeper', url: gw.url, headers: gw.headers, model: gw.models.latency, cpuMicros: gw.cpuMicros, idle: gw.idle });
  }
  const bare = await startFloorRelay('sse', `${topo.upstream.openai}/v1/chat/completions`);
  floors.push(bare);
  out.push({ name: 'bare relay', url: bare.url, model: 'bench-model', cpuMicros: bare.cpuMicros });
  const withStore = await topo.startStoreFloor!({ writes: 'both' }); // stops with its topology
  out.push({ name: 'bare relay + 2 store writes', url: withStore.url, model: 'bench-model', cpuMicros: withStore.cpuMicros });
  return out;
}

/** CPU per request of `n` sequential streamed requests on one path, its background work included; any failure fails the run. */
function measure(p: Path, n: number): Promise<number> {
  const target = makeTarget(p.url, p.headers);
  return cpuPerRequest(p.cpuMicros, { target, body: (stream) => benchChatBody(p.model, stream) }, true, n, p.idle, true);
}

/** This process's CPU per turn of a timer loop that does nothing, its turns `gapMs` apart (µs). */
async function timerTurnMicros(gapMs: number, turns: number): Promise<number> {
  const turn = () => new Promise((r) => setTimeout(r, gapMs));
  for (let i = 0; i < 20; i++) await turn();
  const before = process.cpuUsage();
  for (let i = 0; i < turns; i++) await turn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / turns;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200);
  const rounds = Number(process.argv[3] ?? 3);
  const [back, apart] = [await timerTurnMicros(0, 200), await timerTurnMicros(20, 200)];
  const topos: Topology[] = [];
  const floors: FloorRelay[] = [];
  try {
    for (const delay of DELAYS) topos.push(await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: delay, chunks: 32, longChunks: 10 }, modes: ['full', 'open'] }));
    const byDelay: Path[][] = [];
    for (const t of topos) byDelay.push(await paths(t, floors));
    // Warm-up: each process reaches its steady state (JIT, leases, connections) before any block counts.
    for (const ps of byDelay) for (const p of ps) await measure(p, 100);
    const cpu = byDelay[0].map(() => DELAYS.map(() => [] as number[]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < byDelay[0].length; i++) {
        const order = (r + i) % 2 === 0 ? [0, 1] : [1, 0];
        for (const d of order) cpu[i][d].push(await measure(byDelay[d][i], n));
      }
    }
    console.log(`This process, a timer loop doing nothing: ${back.toFixed(0)} µs of CPU per turn back to back, ${apart.toFixed(0)} µs per turn 20 ms apart (200 turns each).`);
    console.log('');
    console.log(`CPU per streamed request (ms, median of ${rounds} rounds of ${n} sequential requests; 32 chunks; ${new Date().toISOString()})`);
    console.log('');
    console.log('| path | upstream answers at once | upstream waits 20 ms | ratio | rounds (at once; after 20 ms) |');
    console.log('|---|---|---|---|---|');
    byDelay[0].forEach((p, i) => {
      const [now, later] = [median(cpu[i][0]), median(cpu[i][1])];
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
      console.log(`| ${p.name} | ${now.toFixed(2)} | ${later.toFixed(2)} | ${(later / now).toFixed(2)} | ${fmt(cpu[i][0])}; ${fmt(cpu[i][1])} |`);
    });
  } finally {
    for (const f of floors) await f.close(); // before the upstreams they relay
    for (const t of topos) await t.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
