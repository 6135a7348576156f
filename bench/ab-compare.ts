/**
 * One gateway mode, two builds, one run: the quick A/B for per-request work (`npm run bench` is the
 * measurement of record):
 *
 *   npx tsx bench/ab-compare.ts <git-ref> [full|open] [requests=600] [stream|non-stream]
 *
 * Extracts <git-ref> and this tree (as it stands, untracked files included) into temporary folders (sharing
 * this checkout's node_modules) and starts each version's processes topology (its upstream double, store
 * process and gateway process) the same way. Then sends the same sequential requests to both, alternating one to each (which goes first
 * alternates too), so machine noise (this VM's steal, another process's burst) hits both alike; run to run
 * on this 2-vCPU machine, one build's CPU per request moves by ±10 %, which a before/after of separate runs
 * cannot see through. The same code on both sides reads 1.015-1.020x (2026-12-02; 1.04-1.06x before the
 * direct path was measured every round, see below). Prints, per side: gateway CPU per request (user / system), added time to first token
 * p50 / p99 against the direct path (measured in the same alternation), the store process's CPU per
 * request, and after/before. With TOLLGATE_BENCH_TRACE=1, also the gateway's time from receiving a request
 * to its upstream call and from the upstream's answer headers to its own (p50 / p99; the ref's gateway
 * process must have the upstream-only trace, 2026-12-02).
 * CONCURRENCY=c (default 1): each round sends c concurrent requests to one side, then c to the other, then c
 * direct ones per side; the table adds each side's throughput against the direct path's (requests per second of
 * its batches), the c=16 / c=64 targets' quick loop (the bench's own run is the measurement of record).
 * CHUNKS (default 32) sets the upstream's content chunks per answer. AB_AFTER_GATEWAY_FLAGS: Node/V8 flags for
 * this tree's gateway process only (with HEAD as the ref: one flag's effect on the same code).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
import { summarize } from './stats';
import { extractTree, workingTree } from './git-tree';
import type { GatewayMode } from './gateway/under-test';
import type { Topology, TopologyOptions } from './topology';


type Start = (opts: TopologyOptions) => Promise<Topology>;
interface Split {
  user: number;
  system: number;
}
type Stats = Awaited<ReturnType<NonNullable<Topology['gateways']['full']>['stats']>> & { cpuSplit?: Split; trace?: { preUpstream: number[]; upstreamToClient: number[] } };

async function main(): Promise<void> {
  const [ref, modeArg, nArg, streamArg] = process.argv.slice(2);
  if (!ref) throw new Error('usage: npx tsx bench/ab-compare.ts <git-ref> [full|open] [requests] [stream|non-stream]');
  const mode = (modeArg ?? 'full') as GatewayMode;
  const n = Number(nArg ?? 600);
  const stream = (streamArg ?? 'stream') === 'stream';
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ab-'));
  const sides: Array<{ name: 'before' | 'after'; topo?: Topology }> = [{ name: 'before' }, { name: 'after' }];
  try {
    // Both sides the same way: extracted from git into sibling folders (sharing this checkout's node_modules)
    // and started through their own bench/topology.ts. This tree is taken as it stands, untracked files
    // included (a tree written from a scratch index). Until 2026-12-02 this tree ran from the checkout itself;
    // making the two sides alike did not by itself remove the tilt the same code showed (the request order
    // below did), but it leaves one difference fewer.
    const thisTree = workingTree(join(dir, 'index'));
    const extract = async (treeish: string, name: string): Promise<Start> => {
      const src = extractTree(treeish, join(dir, name));
      return ((await import(join(src, 'bench', 'topology.ts'))) as { startTopology: Start }).startTopology;
    };
    const starts = [await extract(ref, 'before-src'), await extract(thisTree, 'after-src')];
    const opts: TopologyOptions = { kind: 'processes', upstream: { firstByteDelayMs: 20, chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 }, modes: [mode] };
    const startSide = async (k: 0 | 1) => {
      // AB_AFTER_GATEWAY_FLAGS: Node/V8 flags for this tree's gateway only (the same code with and without a
      // flag: give HEAD as the ref).
      const flags = process.env.TOLLGATE_BENCH_GATEWAY_FLAGS;
      if (k === 1 && process.env.AB_AFTER_GATEWAY_FLAGS !== undefined) process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = process.env.AB_AFTER_GATEWAY_FLAGS;
      sides[k].topo = await starts[k](opts);
      if (flags === undefined) delete process.env.TOLLGATE_BENCH_GATEWAY_FLAGS;
      else process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = flags;
    };
    // AB_START=after starts this tree's side first (start order is not what tilted the old runs: 2026-12-02).
    for (const k of process.env.AB_START === 'after' ? ([1, 0] as const) : ([0, 1] as const)) await startSide(k);

    const runs = sides.map(({ topo }) => {
      const gw = topo!.gateways[mode];
      if (!gw) throw new Error(`no ${mode} gateway`);
      return {
        topo: topo!,
        gw,
        target: makeTarget(gw.url, gw.headers),
        body: benchChatBody(gw.models.latency, stream),
        direct: makeTarget(`${topo!.upstream.openai}/v1/chat/completions`, { authorization: 'Bearer sk-bench-upstream' }),
        ttft: [] as number[],
        directTtft: [] as number[],
        wallMs: 0,
        directWallMs: 0,
        ok: 0,
        before: undefined as Stats | undefined,
        after: undefined as Stats | undefined,
        store: [0, 0],
      };
    });
    const directBody = benchChatBody('bench-model', stream);
    for (let i = 0; i < 100; i++) for (const r of runs) await timedPost(r.target, r.body, stream);
    for (const r of runs) {
      await r.gw.idle();
      // Both windows start right after a forced full collection (a tree from before 2026-12-03 collects in
      // any stats() call; a newer one when asked). That costs each window the recompiles it causes, the same
      // on both sides, which this tool compares: without it a collection of the process's own falls in one
      // side's window and not the other's, and the same code read 0.961-1.051x (three runs, 2026-12-03 05:24-
      // 05:30) where it reads 1.015-1.02x with it. `npm run bench` and profile-path read the gateway's CPU
      // without one, as a deployment runs.
      r.before = (await r.gw.stats({ gc: true })) as Stats;
      r.store[0] = (await r.topo.storeCpuMicros?.()) ?? 0;
    }
    const c = Math.max(1, Number(process.env.CONCURRENCY ?? 1));
    // One round: c requests at once, their TTFTs, and the batch's wall time.
    const batch = async (target: typeof runs[0]['target'], body: string) => {
      const t0 = performance.now();
      const out = await Promise.all(Array.from({ length: c }, () => timedPost(target, body, stream)));
      return { out, ms: performance.now() - t0 };
    };
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? runs : [...runs].reverse();
      for (const r of order) {
        const { out, ms } = await batch(r.target, r.body);
        r.wallMs += ms;
        for (const t of out) {
          if (t.status === 200) r.ok++;
          r.ttft.push(t.ttftMs);
        }
      }
      // The direct path in the same alternation (its own upstream double per side), every round: then each
      // side's request follows a direct one as often as the other side's. (Every other round, as until
      // 2026-12-02, made the after side wait through two direct requests every other round while the before
      // side followed itself: the same code on both sides measured 4-7 % more CPU after than before, this
      // VM's cost of waking a process that waited longer.)
      for (const r of order) {
        const { out, ms } = await batch(r.direct, directBody);
        r.directWallMs += ms;
        for (const t of out) r.directTtft.push(t.ttftMs);
      }
    }
    for (const r of runs) {
      await r.gw.idle();
      r.after = (await r.gw.stats({ gc: true })) as Stats;
      r.store[1] = (await r.topo.storeCpuMicros?.()) ?? 0;
    }

    const fmt = (x: number) => x.toFixed(2);
    const rows = runs.map((r, k) => {
      const perReq = (a: number, b: number) => (b - a) / 1000 / Math.max(1, r.ok);
      const cpu = perReq(r.before!.cpuMicros, r.after!.cpuMicros);
      const [sb, sa] = [r.before!.cpuSplit, r.after!.cpuSplit];
      const g = summarize(r.ttft);
      const d = summarize(r.directTtft);
      const pre = r.after!.trace ? summarize(r.after!.trace.preUpstream) : undefined;
      const post = r.after!.trace ? summarize(r.after!.trace.upstreamToClient) : undefined;
      return {
        side: sides[k].name,
        ok: `${r.ok}/${n * c}`,
        throughput: r.directWallMs / r.wallMs,
        cpu,
        split: sb && sa ? `${fmt(perReq(sb.user, sa.user))} / ${fmt(perReq(sb.system, sa.system))}` : '–',
        added: { p50: g.p50 - d.p50, p99: g.p99 - d.p99 },
        store: perReq(r.store[0], r.store[1]),
        pre,
        post,
      };
    });
    console.log(`${mode}, ${stream ? 'stream' : 'non-stream'}, ${n} rounds of ${c} request(s) per side, alternating; before = ${ref}, after = this tree`);
    console.log('| side | ok | gateway CPU ms / request | user / system | added TTFT p50 / p99 (ms) | throughput / direct | request → upstream call p50 / p99 (ms) | upstream answer → client answer p50 / p99 (ms) | store CPU ms / request |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.side} | ${r.ok} | ${fmt(r.cpu)} | ${r.split} | ${fmt(r.added.p50)} / ${fmt(r.added.p99)} | ${r.throughput.toFixed(3)} | ${r.pre ? `${fmt(r.pre.p50)} / ${fmt(r.pre.p99)}` : '–'} | ${r.post ? `${fmt(r.post.p50)} / ${fmt(r.post.p99)}` : '–'} | ${fmt(r.store)} |`);
    }
    const [b, a] = rows;
    console.log(
      `after / before: CPU ${(a.cpu / b.cpu).toFixed(3)}, throughput ${(a.throughput / b.throughput).toFixed(3)}` +
        (a.pre && b.pre ? `, request → upstream call p50 ${(a.pre.p50 / b.pre.p50).toFixed(3)}` : '') +
        (a.post && b.post ? `, upstream answer → client answer p50 ${(a.post.p50 / b.post.p50).toFixed(3)}` : '') +
        `, store CPU ${(a.store / Math.max(1e-9, b.store)).toFixed(3)}`,
    );
  } finally {
    for (const s of sides) await s.topo?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
