/**
 * One gateway mode, two builds, one run: the quick A/B for per-request work (`npm run bench` is the
 * measurement of record):
 *
 *   npx tsx bench/ab-compare.ts <git-ref> [full|open] [requests=600] [stream|non-stream]
 *
 * Extracts <git-ref> into a temporary folder (sharing this checkout's node_modules) and starts that
 * version's processes topology (its upstream double, store process and gateway process) next to this
 * tree's. Then sends the same sequential requests to both, alternating one to each (which goes first
 * alternates too), so machine noise (this VM's steal, another process's burst) hits both alike; run to run
 * on this 2-vCPU machine, one build's CPU per request moves by ±10 %, which a before/after of separate runs
 * cannot see through. Prints, per side: gateway CPU per request (user / system), added time to first token
 * p50 / p99 against the direct path (measured in the same alternation), the store process's CPU per
 * request, and after/before. With TOLLGATE_BENCH_TRACE=1, also the gateway's time from receiving a request
 * to its upstream call and from the upstream's answer headers to its own (p50 / p99; the ref's gateway
 * process must have the upstream-only trace, 2026-12-02).
 * CHUNKS (default 32) sets the upstream's content chunks per answer. AB_AFTER_GATEWAY_FLAGS: Node/V8 flags for
 * this tree's gateway process only (with HEAD as the ref: one flag's effect on the same code).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
import { summarize } from './stats';
import type { GatewayMode } from './gateway/under-test';
import type { Topology, TopologyOptions } from './topology';
import { startTopology } from './topology';

const ROOT = resolve(__dirname, '..');

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
    const before = join(dir, 'before-src');
    execFileSync('mkdir', ['-p', before]);
    execFileSync('tar', ['-x', '-C', before], { input: execFileSync('git', ['archive', ref], { cwd: ROOT, maxBuffer: 1 << 30 }) });
    symlinkSync(join(ROOT, 'node_modules'), join(before, 'node_modules'));
    const beforeStart = ((await import(join(before, 'bench', 'topology.ts'))) as { startTopology: Start }).startTopology;
    const opts: TopologyOptions = { kind: 'processes', upstream: { firstByteDelayMs: 20, chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 }, modes: [mode] };
    sides[0].topo = await beforeStart(opts);
    // AB_AFTER_GATEWAY_FLAGS: Node/V8 flags for this tree's gateway only (the same code with and without a
    // flag: give HEAD as the ref).
    if (process.env.AB_AFTER_GATEWAY_FLAGS !== undefined) process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = process.env.AB_AFTER_GATEWAY_FLAGS;
    sides[1].topo = await startTopology(opts);

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
      r.before = (await r.gw.stats()) as Stats;
      r.store[0] = (await r.topo.storeCpuMicros?.()) ?? 0;
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? runs : [...runs].reverse();
      for (const r of order) {
        const t = await timedPost(r.target, r.body, stream);
        if (t.status === 200) r.ok++;
        r.ttft.push(t.ttftMs);
      }
      // The direct path in the same alternation (its own upstream double per side), every other round.
      if (i % 2 === 0) for (const r of order) r.directTtft.push((await timedPost(r.direct, directBody, stream)).ttftMs);
    }
    for (const r of runs) {
      await r.gw.idle();
      r.after = (await r.gw.stats()) as Stats;
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
        ok: `${r.ok}/${n}`,
        cpu,
        split: sb && sa ? `${fmt(perReq(sb.user, sa.user))} / ${fmt(perReq(sb.system, sa.system))}` : '–',
        added: { p50: g.p50 - d.p50, p99: g.p99 - d.p99 },
        store: perReq(r.store[0], r.store[1]),
        pre,
        post,
      };
    });
    console.log(`${mode}, ${stream ? 'stream' : 'non-stream'}, ${n} requests per side, alternating; before = ${ref}, after = this tree`);
    console.log('| side | ok | gateway CPU ms / request | user / system | added TTFT p50 / p99 (ms) | request → upstream call p50 / p99 (ms) | upstream answer → client answer p50 / p99 (ms) | store CPU ms / request |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.side} | ${r.ok} | ${fmt(r.cpu)} | ${r.split} | ${fmt(r.added.p50)} / ${fmt(r.added.p99)} | ${r.pre ? `${fmt(r.pre.p50)} / ${fmt(r.pre.p99)}` : '–'} | ${r.post ? `${fmt(r.post.p50)} / ${fmt(r.post.p99)}` : '–'} | ${fmt(r.store)} |`);
    }
    const [b, a] = rows;
    console.log(
      `after / before: CPU ${(a.cpu / b.cpu).toFixed(3)}` +
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
