/**
 * Two builds of the gateway's Lambda container, one run: the quick A/B for per-invocation work on the
 * Lambda path (bench/lambda-calls.ts measures one container; `npm run bench` is the measurement of record):
 *
 *   npx tsx bench/lambda-ab.ts <git-ref> [invocations=400]
 *
 * Extracts <git-ref> and this tree (as it stands, untracked files included) into temporary folders sharing
 * this checkout's node_modules; a tree without the container's harness files (bench/processes/
 * lambda-process.ts, self-profile.ts, test/support/lambda-runtime-client.ts) gets this tree's copies. Each
 * side is a container built from its tree's sources (bench/lambda-calls.ts startLambdaSide: its own store,
 * upstream double and Runtime API), and the two take the same streamed invocations alternately, which goes
 * first alternating too, so machine noise hits both alike. Prints, per side: CPU per warm invocation (user /
 * system), first body byte and response end after the hand-over (p50 / p99), the billed tail after the
 * response (p50), and after/before.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startLambdaSide, type LambdaSide } from './lambda-calls';
import { extractTree, workingTree } from './git-tree';
import { summarize } from './stats';

const ROOT = resolve(__dirname, '..');
const HARNESS = ['bench/processes/lambda-process.ts', 'bench/processes/self-profile.ts', 'test/support/lambda-runtime-client.ts'];

async function main(): Promise<void> {
  const [ref, nArg] = process.argv.slice(2);
  if (!ref) throw new Error('usage: npx tsx bench/lambda-ab.ts <git-ref> [invocations]');
  const n = Number(nArg ?? 400);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lambda-ab-'));
  const sides: Array<{ name: string; side?: LambdaSide; cpu: number[]; user: number[]; firstByte: number[]; response: number[]; tail: number[] }> = [
    { name: 'before', cpu: [], user: [], firstByte: [], response: [], tail: [] },
    { name: 'after', cpu: [], user: [], firstByte: [], response: [], tail: [] },
  ];
  try {
    const thisTree = workingTree(join(dir, 'index'));
    const extract = (treeish: string, name: string): string => {
      const src = extractTree(treeish, join(dir, name));
      for (const f of HARNESS) {
        if (existsSync(join(src, f))) continue;
        mkdirSync(dirname(join(src, f)), { recursive: true });
        copyFileSync(join(ROOT, f), join(src, f));
      }
      return join(src, 'bench', 'processes', 'lambda-process.ts');
    };
    const scripts = [extract(ref, 'before-src'), extract(thisTree, 'after-src')];
    for (let k = 0; k < 2; k++) sides[k].side = await startLambdaSide(scripts[k]);
    const all = sides.map((s) => s.side!);
    for (let i = 0; i < 50; i++) for (const s of all) await s.invoke();
    const from = await Promise.all(all.map((s) => s.stats()));
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const r = await sides[k].side!.invoke();
        if (r.firstByteMs !== undefined) sides[k].firstByte.push(r.firstByteMs);
        sides[k].response.push(r.responseMs);
        sides[k].tail.push(r.tailMs);
      }
    }
    const to = await Promise.all(all.map((s) => s.stats()));
    const per = (k: number) => (to[k].cpuMicros - from[k].cpuMicros) / 1000 / n;
    console.log(`# Lambda container A/B: ${ref} (before) vs this tree (after), ${n} alternating streamed invocations each (${new Date().toISOString()})\n`);
    for (let k = 0; k < 2; k++) {
      const s = sides[k];
      const user = ((to[k].cpuSplit?.user ?? 0) - (from[k].cpuSplit?.user ?? 0)) / 1000 / n;
      const fb = summarize(s.firstByte);
      const resp = summarize(s.response);
      console.log(`${s.name.padEnd(6)}  CPU ${per(k).toFixed(3)} ms/invocation (user ${user.toFixed(3)} / system ${(per(k) - user).toFixed(3)}), first byte p50 / p99 ${fb.p50.toFixed(2)} / ${fb.p99.toFixed(2)} ms, response end ${resp.p50.toFixed(2)} / ${resp.p99.toFixed(2)} ms, tail p50 ${summarize(s.tail).p50.toFixed(2)} ms`);
    }
    console.log(`\nafter / before: CPU ${(per(1) / per(0)).toFixed(3)}x`);
  } finally {
    for (const s of sides) await s.side?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
