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
 */
import { startFloorRelay } from './floor';
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
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

async function paths(topo: Topology): Promise<Path[]> {
  const out: Path[] = [];
  for (const mode of ['full', 'open'] as const) {
    const gw = topo.gateways[mode];
    if (!gw?.cpuMicros) throw new Error(`no ${mode} gateway process`);
    out.push({ name: mode === 'full' ? 'gateway (full)' : 'gateway, no gatekeeper', url: gw.url, headers: gw.headers, model: gw.models.latency, cpuMicros: gw.cpuMicros, idle: gw.idle });
  }
  const bare = await startFloorRelay('sse', `${topo.upstream.openai}/v1/chat/completions`);
  out.push({ name: 'bare relay', url: bare.url, model: 'bench-model', cpuMicros: bare.cpuMicros, idle: undefined });
  const withStore = await topo.startStoreFloor!({ writes: 'both' });
  out.push({ name: 'bare relay + 2 store writes', url: withStore.url, model: 'bench-model', cpuMicros: withStore.cpuMicros });
  // The bare relay is not the topology's own: it stops with it.
  const close = topo.close.bind(topo);
  topo.close = async () => {
    await bare.close();
    await close();
  };
  return out;
}

/** CPU per request of `n` sequential streamed requests on one path, its background work included. */
async function cpuPerRequest(p: Path, n: number): Promise<number> {
  const target = makeTarget(p.url, p.headers);
  const body = benchChatBody(p.model, true);
  await p.idle?.();
  const before = await p.cpuMicros();
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await timedPost(target, body, true)).status === 200) ok++;
  await p.idle?.();
  if (ok < n) throw new Error(`${p.name}: ${n - ok} of ${n} requests failed`);
  return ((await p.cpuMicros()) - before) / 1000 / n;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200);
  const rounds = Number(process.argv[3] ?? 3);
  const topos: Topology[] = [];
  try {
    for (const delay of DELAYS) topos.push(await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: delay, chunks: 32, longChunks: 10 }, modes: ['full', 'open'] }));
    const byDelay = await Promise.all(topos.map(paths));
    // Warm-up: each process reaches its steady state (JIT, leases, connections) before any block counts.
    for (const ps of byDelay) for (const p of ps) await cpuPerRequest(p, 100);
    const cpu = byDelay[0].map(() => DELAYS.map(() => [] as number[]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < byDelay[0].length; i++) {
        const order = (r + i) % 2 === 0 ? [0, 1] : [1, 0];
        for (const d of order) cpu[i][d].push(await cpuPerRequest(byDelay[d][i], n));
      }
    }
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
    for (const t of topos) await t.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
