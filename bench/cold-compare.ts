/**
 * Cold require() of the gateway bundle, before and after, in one run:
 *
 *   npx tsx bench/cold-compare.ts <git-ref> [runs=15] [chunk=@pydantic/genai-prices]
 *
 * Extracts <git-ref> into a temporary folder (sharing this checkout's node_modules), bundles its gateway
 * handler with its own bench/bundle.ts (its own baked defines and lazy chunks, so each side is bundled as
 * that version deploys it) and this tree's the same way, then alternates single cold loads of the two
 * (bench/bundle.ts coldLoad: a fresh `node` with that side's Lambda environment and a stub `awslambda`), so machine
 * noise hits both alike. Prints the medians of wall time and of CPU time of the require, and after/before,
 * and what requiring one lazy chunk (lib/lazy-chunks.ts) costs after the bundle: what its first use pays.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWSLAMBDA_STUB, bundleHandler, coldLoad, LAMBDA_ENV } from './bundle';
import { extractTree } from './git-tree';
import { summarize } from './stats';

const GATEWAY = 'lambda/handlers/gateway.ts';
const CATALOG = '@pydantic/genai-prices';

type Bundler = typeof bundleHandler;

async function main(): Promise<void> {
  const [ref, runsArg, chunkArg] = process.argv.slice(2);
  if (!ref) throw new Error('usage: npx tsx bench/cold-compare.ts <git-ref> [runs] [chunk]');
  const chunk = chunkArg ?? CATALOG;
  const runs = Number(runsArg ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cold-'));
  try {
    const before = extractTree(ref, join(dir, 'before-src'));
    // Each side loads with its own Lambda environment (e.g. NODE_OPTIONS as that version's stack set it).
    const beforeBench = (await import(join(before, 'bench', 'bundle.ts'))) as { bundleHandler: Bundler; LAMBDA_ENV?: Record<string, string> };
    const beforeBundler = beforeBench.bundleHandler;
    const env = { before: beforeBench.LAMBDA_ENV ?? LAMBDA_ENV, after: LAMBDA_ENV };
    const built = { before: await beforeBundler(GATEWAY, join(dir, 'before')), after: await bundleHandler(GATEWAY, join(dir, 'after')) };
    const stub = join(dir, 'awslambda-stub.cjs');
    writeFileSync(stub, AWSLAMBDA_STUB);
    const samples = { before: { wall: [] as number[], cpu: [] as number[] }, after: { wall: [] as number[], cpu: [] as number[] } };
    const chunkMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const side of ['before', 'after'] as const) {
        // After the require, the after side also loads a chunk (by default the price catalog: what a request
        // for a model outside the baked snapshot pays, and what the first priced request of every container paid before).
        const r = await coldLoad(built[side].file, stub, side === 'after' ? chunk : undefined, env[side]);
        samples[side].wall.push(r.requireMs);
        samples[side].cpu.push(r.cpuMs);
        if (r.chunkMs !== undefined) chunkMs.push(r.chunkMs);
      }
    }
    const report = (side: 'before' | 'after') => ({
      bundleBytes: readFileSync(built[side].file).length,
      wallMs: summarize(samples[side].wall).p50,
      cpuMs: summarize(samples[side].cpu).p50,
    });
    const b = report('before');
    const a = report('after');
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const chunked = built.after.chunks.some((c) => c.module === chunk) ? { chunkRequireMs: { [chunk]: summarize(chunkMs).p50 } } : {};
    console.log(JSON.stringify({ ref, runs, before: b, after: a, ratio: { wall: r2(a.wallMs / b.wallMs), cpu: r2(a.cpuMs / b.cpuMs), bytes: r2(a.bundleBytes / b.bundleBytes) }, ...chunked }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
