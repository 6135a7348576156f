/**
 * CPU per request and a CPU profile of one gateway mode, sequential requests only (the quick loop for
 * profile-driven work; `npm run bench` is the measurement of record):
 *
 *   npx tsx bench/profile-path.ts [full|open|floor|floor-store] [requests=400] [stream|non-stream] [top=25]
 *
 * floor / floor-store: the bench's bare relay / bare relay + 2 store writes instead of a gateway (CPU per
 * request and STRACE=1 only; no profile).
 *
 * Same processes topology and request bodies as the bench: upstream double, store process, one gateway
 * process profiled over the inspector after a warm-up (top=0: no profiler, for the CPU number itself;
 * the sampling profiler's signals inflate it).
 *
 * Environment: TOLLGATE_BENCH_TRACE=1 (time to the upstream call and from its headers to the client's, GC
 * pauses, event-loop delay), TOLLGATE_BENCH_ALLOC=1 (an allocation profile instead of a CPU profile: KB
 * allocated per request by site), TOLLGATE_BENCH_GATEWAY_FLAGS (Node/V8 flags for the gateway process, e.g.
 * `--no-turbo-inlining` to attribute allocations and time to the function that does them), CHUNKS, GAP_MS,
 * INCLUDE, PROFILE_OUT (keep the profile files there), FIRST_BYTE_MS (the upstream double's wait before its first
 * byte; default 20, as the bench), STRACE=1 (system calls of the gateway process per request over the
 * measured requests, by `strace -f -c`: its epoll waits count the event loop's wake-ups; needs strace), JIT=1
 * (V8's optimisations and deoptimisations in the gateway process, per 200 measured requests, the
 * deoptimisation reasons by function and the functions optimised most often; JIT_DUMP=<file> also keeps
 * every line of V8's trace there, e.g. to count the "weak objects" deoptimisations that follow each
 * Mark-Compact with TOLLGATE_BENCH_GATEWAY_FLAGS=--trace-gc), MAPS=1 (the hidden classes V8 makes in the
 * gateway process per measured request, and the map events by kind and property name: none in steady state
 * is the aim).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayMode } from './gateway/under-test';
import { makeTarget, timedPost } from './http-client';
import { benchChatBody } from './harness';
import { startFloorRelay, type FloorRelay } from './floor';
import { inclusiveShares, summarizeProfiles } from './profile';
import { summarize } from './stats';
import { startTopology } from './topology';

/** `strace -f -c` attached to a process; stop() detaches and returns the calls by system call, most first. */
async function attachStrace(pid: number | undefined, dir: string): Promise<{ stop(): Promise<[string, number][]> }> {
  if (!pid) throw new Error('STRACE=1: the gateway process did not report its pid');
  const out = join(dir, 'strace.txt');
  const child = spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // strace says so on stderr once it is attached (to each thread, with -f).
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching`)));
    child.stderr.on('data', (b: Buffer) => {
      if (/attached/i.test(b.toString())) resolve();
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      const rows: [string, number][] = [];
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        // % time, seconds, usecs/call, calls, [errors,] syscall
        const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
        if (m && m[2] !== 'total') rows.push([m[2], Number(m[1])]);
      }
      return rows.sort((a, b) => b[1] - a[1]);
    },
  };
}

/** The bench's upstream double, with FIRST_BYTE_MS and CHUNKS from the environment. */
function upstreamOptions(): { firstByteDelayMs: number; chunks: number; longChunks: number } {
  return { firstByteDelayMs: Number(process.env.FIRST_BYTE_MS ?? 20), chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 };
}

function printSyscalls(who: string, syscalls: [string, number][], ok: number): void {
  console.log(`system calls of the ${who} process per request (strace -f -c; ${ok} requests):`);
  for (const [name, calls] of syscalls) console.log(`${(calls / Math.max(1, ok)).toFixed(2).padStart(8)}  ${name}`);
}

/**
 * `floor` (the bare relay) and `floor-store` (the bare relay + the 2 store writes), the bench's floors, in
 * the same topology: CPU per request, and with STRACE=1 their system calls, to read the gateway's against.
 */
async function floorPath(mode: 'floor' | 'floor-store', n: number, stream: boolean): Promise<void> {
  const topo = await startTopology({ kind: 'processes', upstream: upstreamOptions(), modes: [] });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-profile-path-'));
  let bare: FloorRelay | undefined;
  try {
    // The bare relay is not the topology's own (it is closed here); the store floor stops with the topology.
    const relay = mode === 'floor' ? (bare = await startFloorRelay('sse', `${topo.upstream.openai}/v1/chat/completions`)) : await topo.startStoreFloor!({ writes: 'both' });
    const target = makeTarget(relay.url);
    const body = benchChatBody('bench-model', stream);
    for (let i = 0; i < Number(process.env.WARMUP ?? 100); i++) await timedPost(target, body, stream);
    const before = await relay.cpuMicros();
    const strace = process.env.STRACE === '1' ? await attachStrace(relay.pid, dir) : undefined;
    let ok = 0;
    for (let i = 0; i < n; i++) if ((await timedPost(target, body, stream)).status === 200) ok++;
    const syscalls = await strace?.stop();
    const after = await relay.cpuMicros();
    console.log(`${mode}, ${stream ? 'stream' : 'non-stream'}: ${ok}/${n} ok, CPU ${((after - before) / 1000 / Math.max(1, ok)).toFixed(2)} ms/request`);
    if (syscalls) printSyscalls('relay', syscalls, ok);
  } finally {
    await bare?.close();
    await topo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[3] ?? 400);
  const stream = (process.argv[4] ?? 'stream') === 'stream';
  if (process.argv[2] === 'floor' || process.argv[2] === 'floor-store') return floorPath(process.argv[2], n, stream);
  const mode = (process.argv[2] ?? 'full') as GatewayMode;
  const top = Number(process.argv[5] ?? 25);
  // JIT=1: V8's own trace of the gateway process (--trace-opt --trace-deopt), counted per 200 measured requests.
  const jit = process.env.JIT === '1' ? jitCounter() : undefined;
  if (jit) process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = `${process.env.TOLLGATE_BENCH_GATEWAY_FLAGS ?? ''} --trace-opt --trace-deopt`;
  // MAPS=1: V8's map log of the gateway process (--log-maps), read for the measured requests only.
  const mapsDir = process.env.MAPS === '1' ? mkdtempSync(join(tmpdir(), 'tollgate-maps-')) : undefined;
  const mapsLog = mapsDir ? join(mapsDir, 'maps.log') : undefined;
  if (mapsLog) process.env.TOLLGATE_BENCH_GATEWAY_FLAGS = `${process.env.TOLLGATE_BENCH_GATEWAY_FLAGS ?? ''} --log-maps --logfile=${mapsLog} --no-logfile-per-isolate`;
  const topo = await startTopology({ kind: 'processes', upstream: upstreamOptions(), modes: [mode], onGatewayStdoutLine: jit?.line });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-profile-path-'));
  try {
    const gw = topo.gateways[mode];
    if (!gw) throw new Error(`no ${mode} gateway`);
    const target = makeTarget(gw.url, gw.headers);
    const body = benchChatBody(gw.models.latency, stream);
    for (let i = 0; i < Number(process.env.WARMUP ?? 100); i++) await timedPost(target, body, stream);
    await gw.idle();
    // STATS_GC=1: a forced full collection just before the measured requests (the bench did that until
    // 2026-12-03; it costs the window the recompiles it causes).
    const before = await gw.stats({ gc: process.env.STATS_GC === '1' });
    const storeBefore = await topo.storeCpuMicros?.();
    if (top > 0) await gw.profileStart?.();
    const strace = process.env.STRACE === '1' ? await attachStrace((before as { pid?: number }).pid, dir) : undefined;
    const mapsFrom = mapsLog ? statSync(mapsLog).size : 0;
    let ok = 0;
    const ttft: number[] = [];
    jit?.reset();
    for (let i = 0; i < n; i++) {
      if (jit && i > 0 && i % 200 === 0) jit.window(i);
      const t = await timedPost(target, body, stream);
      if (t.status === 200) ok++;
      ttft.push(t.ttftMs);
      // GAP_MS: a pause after each request, so background work (settlement, flushes) finishes before the next.
      if (process.env.GAP_MS) await new Promise((r) => setTimeout(r, Number(process.env.GAP_MS)));
    }
    // The same requests straight to the upstream double, after the gateway's (its CPU counter is read first).
    const direct = makeTarget(`${topo.upstream.openai}/v1/chat/completions`, { authorization: 'Bearer sk-bench-upstream' });
    const directBody = benchChatBody('bench-model', stream);
    const directTtft: number[] = [];
    await gw.idle();
    if (top > 0) await gw.profileStop?.(dir);
    const syscalls = await strace?.stop();
    const after = await gw.stats();
    const storeAfter = await topo.storeCpuMicros?.();
    for (let i = 0; i < n; i++) directTtft.push((await timedPost(direct, directBody, stream)).ttftMs);
    const [g, d] = [summarize(ttft), summarize(directTtft)];
    const cpuMs = (after.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, ok);
    console.log(
      `${mode}, ${stream ? 'stream' : 'non-stream'}: ${ok}/${n} ok, CPU ${cpuMs.toFixed(2)} ms/request${top > 0 ? ' (profiler on: it inflates this)' : ''}, ` +
        `TTFT p50 ${g.p50.toFixed(2)} ms (p99 ${g.p99.toFixed(2)}), direct ${d.p50.toFixed(2)} ms ` +
        `(added ${(g.p50 - d.p50).toFixed(2)}, p99 ${(g.p99 - d.p99).toFixed(2)}; not interleaved: npm run bench is the measure)`,
    );
    const split = (s: unknown) => (s as { cpuSplit?: { user: number; system: number } }).cpuSplit;
    const [sb, sa] = [split(before), split(after)];
    if (sb && sa) console.log(`gateway CPU split: user ${((sa.user - sb.user) / 1000 / Math.max(1, ok)).toFixed(2)} / system ${((sa.system - sb.system) / 1000 / Math.max(1, ok)).toFixed(2)} ms/request`);
    const calls = (s: unknown) => (s as { dynamo?: { byCommand: Record<string, number>; background?: number } }).dynamo;
    const [cb, ca] = [calls(before), calls(after)];
    if (cb && ca) {
      const per = (a = 0, b = 0) => ((a - b) / Math.max(1, ok)).toFixed(2);
      const total = (c: { byCommand: Record<string, number> }) => Object.values(c.byCommand).reduce((a, b) => a + b, 0);
      const byCommand = Object.keys(ca.byCommand).map((k) => `${k} ${per(ca.byCommand[k], cb.byCommand[k])}`).join(', ');
      console.log(`store calls per request: ${per(total(ca), total(cb))} (off the request path ${per(ca.background, cb.background)}): ${byCommand}`);
    }
    if (storeBefore !== undefined && storeAfter !== undefined) console.log(`store process (dynalite): CPU ${((storeAfter - storeBefore) / 1000 / Math.max(1, ok)).toFixed(2)} ms/request`);
    const traced = (after as { trace?: { preUpstream: number[]; upstreamToClient: number[]; gcPauses: number[]; gcKinds?: string[]; loopDelayMs?: { p50: number; p99: number; max: number } } }).trace;
    if (traced) {
      const [pre, post] = [summarize(traced.preUpstream), summarize(traced.upstreamToClient)];
      console.log(
        `trace: request → upstream call p50 ${pre.p50.toFixed(2)} / p99 ${pre.p99.toFixed(2)} ms (${traced.preUpstream.length}); ` +
          `upstream answer headers → client headers p50 ${post.p50.toFixed(2)} / p99 ${post.p99.toFixed(2)} ms (${traced.upstreamToClient.length})`,
      );
      const gc = traced.gcPauses;
      const loop = traced.loopDelayMs;
      console.log(
        `trace: GC ${gc.length} pauses, ${gc.reduce((a, b) => a + b, 0).toFixed(1)} ms in all, longest ${Math.max(0, ...gc).toFixed(2)} ms; ` +
          (loop ? `event-loop delay p50 ${loop.p50.toFixed(2)} / p99 ${loop.p99.toFixed(2)} / max ${loop.max.toFixed(2)} ms` : ''),
      );
      const kinds = new Map<string, number[]>();
      (traced.gcKinds ?? []).forEach((k, i) => kinds.set(k, [...(kinds.get(k) ?? []), gc[i]]));
      for (const [k, ms] of kinds) console.log(`  ${k}: ${ms.length} pauses, ${ms.reduce((a, b) => a + b, 0).toFixed(1)} ms, longest ${Math.max(...ms).toFixed(2)} ms`);
    }
    if (syscalls) printSyscalls('gateway', syscalls, ok);
    jit?.print(n);
    if (mapsLog) printMaps(readFileSync(mapsLog).subarray(mapsFrom).toString('utf8'), ok);
    if (process.env.TOLLGATE_BENCH_ALLOC === '1' || process.env.TOLLGATE_BENCH_ALLOC === 'survivors') printAllocations(dir, ok, top);
    const s = summarizeProfiles(dir, `${n} sequential requests`, top);
    if (s) {
      console.log(`sampled ${s.totalSampledMs} ms`);
      for (const a of s.byArea) console.log(`${a.selfPct.toFixed(1).padStart(6)}  ${a.area}`);
      console.log('');
      for (const f of s.topFunctions) console.log(`${f.selfPct.toFixed(1).padStart(6)}  ${f.fn}  ${f.where}`);
      console.log('\ninclusive (callees included), Tollgate code:');
      for (const f of inclusiveShares(dir, new RegExp(process.env.INCLUDE ?? '/lambda/'), top)) console.log(`${f.inclusivePct.toFixed(1).padStart(6)}  ${f.fn}  ${f.where}`);
      // tsx compiles with esbuild's keepNames: every named closure is wrapped in `__name` as it is made. The
      // bundle Lambda runs is built without keepNames, so this share is the local server's (tsx) only.
      const named = inclusiveShares(dir, /\/lambda\//, Number.POSITIVE_INFINITY).filter((f) => f.fn === '__name');
      console.log(`\ntsx's __name (keepNames; not in the Lambda bundle): ${named.reduce((a, f) => a + f.inclusivePct, 0).toFixed(1)} % inclusive`);
    }
  } finally {
    if (mapsDir) rmSync(mapsDir, { recursive: true, force: true });
    await topo.close();
    if (process.env.PROFILE_OUT) cpSync(dir, process.env.PROFILE_OUT, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * MAPS=1: the hidden classes (maps) V8 made in the gateway process during the measured requests, from its
 * --log-maps lines (`map-create,<time>,<address>` and `map,<kind>,<time>,<from>,<to>,<pc>,<line>,<column>,
 * <reason>,<name>`). In steady state a request should make none: a map made per request is one that code
 * cannot reuse, and optimised code that saw it is thrown away once it dies. A transition from a map
 * outside the transition tree (reason "prototype" in V8's log) is made again every time.
 */
function printMaps(log: string, requests: number): void {
  let created = 0;
  const sites = new Map<string, number>();
  for (const line of log.split('\n')) {
    if (line.startsWith('map-create,')) created++;
    else if (line.startsWith('map,')) {
      const f = line.split(',');
      const [kind, reason, name] = [f[1], f[f.length - 2], f[f.length - 1]];
      const key = `${kind}${reason ? ` (${reason === 'prototype' ? 'from a map outside the tree' : reason})` : ''}${name ? ` ${name}` : ''}`;
      sites.set(key, (sites.get(key) ?? 0) + 1);
    }
  }
  const per = (x: number) => (x / Math.max(1, requests)).toFixed(2);
  console.log(`V8 maps made during the ${requests} measured requests: ${per(created)} per request (--log-maps)`);
  for (const [k, c] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${per(c).padStart(8)}  ${k}`);
}

/**
 * Counts V8's optimisations and deoptimisations from the gateway's --trace-opt / --trace-deopt lines: per
 * window of measured requests, and the deoptimisation reasons by function over all of them (a function
 * that keeps coming back here is a deoptimisation loop; optimisations that fade out are warm-up).
 */
function jitCounter() {
  let optimized = 0;
  let deopts = 0;
  let from = { optimized: 0, deopts: 0, at: 0 };
  const windows: string[] = [];
  const reasons = new Map<string, number>();
  const compiled = new Map<string, number>();
  return {
    line(l: string): void {
      if (process.env.JIT_DUMP) appendFileSync(process.env.JIT_DUMP, `${l}\n`);
      // V8 prints 'completed compiling' and then 'completed optimizing' for each one: count the second only.
      if (l.includes('completed optimizing')) {
        optimized++;
        const fn = /<JSFunction ([^ >(]+)/.exec(l)?.[1] || '(anonymous)';
        const tier = /target ([A-Z]+)/.exec(l)?.[1] ?? '';
        compiled.set(`${fn} ${tier}`.trim(), (compiled.get(`${fn} ${tier}`.trim()) ?? 0) + 1);
      } else if (l.includes('bailout (kind: deopt')) {
        deopts++;
        const fn = /<JSFunction ([^ >]*)/.exec(l)?.[1] || '(anonymous)';
        const reason = /reason: (.*?)\):/.exec(l)?.[1] ?? '?';
        reasons.set(`${fn}: ${reason}`, (reasons.get(`${fn}: ${reason}`) ?? 0) + 1);
      }
    },
    reset(): void {
      from = { optimized, deopts, at: 0 };
      reasons.clear();
      compiled.clear();
    },
    window(at: number): void {
      windows.push(`requests ${from.at + 1}-${at}: ${optimized - from.optimized} optimisations, ${deopts - from.deopts} deoptimisations`);
      from = { optimized, deopts, at };
    },
    print(n: number): void {
      this.window(n);
      console.log(`V8 (--trace-opt --trace-deopt), after the ${process.env.WARMUP ?? 100} warm-up requests:`);
      for (const w of windows) console.log(`  ${w}`);
      for (const [k, c] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${String(c).padStart(6)}  deopt ${k}`);
      for (const [k, c] of [...compiled].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${String(c).padStart(6)}  optimised ${k}`);
    },
  };
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/**
 * TOLLGATE_BENCH_ALLOC=1: the sampling heap profile (every ~4 KB allocated, collected objects included;
 * `survivors`: only objects that outlived a scavenge, what the young generation copies and promotes),
 * as bytes allocated per request: by allocation site, and inclusive for Tollgate's functions.
 */
function printAllocations(dir: string, requests: number, top: number): void {
  const file = readdirSync(dir).find((f) => f.endsWith('.heapprofile'));
  if (!file) return;
  const { head } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { head: HeapNode };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const where = (n: HeapNode) => `${n.callFrame.functionName || '(anonymous)'}  ${n.callFrame.url.replace(/^.*\/(node_modules|lambda)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  let total = 0;
  const walk = (n: HeapNode, stack: Set<string>): number => {
    const w = where(n);
    self.set(w, (self.get(w) ?? 0) + n.selfSize);
    total += n.selfSize;
    const inner = new Set(stack).add(w);
    let sum = n.selfSize;
    for (const c of n.children) sum += walk(c, inner);
    if (!stack.has(w) && /lambda\//.test(n.callFrame.url)) inclusive.set(w, (inclusive.get(w) ?? 0) + sum);
    return sum;
  };
  walk(head, new Set());
  const kb = (b: number) => (b / 1024 / Math.max(1, requests)).toFixed(1).padStart(7);
  console.log(`allocated: ${kb(total)} KB per request (sampled)`);
  for (const [w, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(b)} KB  ${w}`);
  console.log('\ninclusive, Tollgate code:');
  for (const [w, b] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(b)} KB  ${w}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
