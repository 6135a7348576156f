/**
 * Where the gateway bundle's cold require() goes, by package:
 *
 *   npx tsx bench/require-breakdown.ts [runs=5]
 *
 * Bundles the gateway as bench/bundle.ts does but unminified, and replaces esbuild's two module wrappers
 * (`__esm` for ES modules that are required lazily, `__commonJS` for CommonJS packages) with timed ones, so
 * each wrapped module's exclusive time (its body, its lazy compilation included, minus the modules it
 * loads) is recorded; the ES modules esbuild hoists into the file's scope (Tollgate's own code with the
 * zod schemas it builds at module load, zod itself) are timed between marks put at each module's start,
 * Tollgate's per file (`lambda/...`). What none of that covers is reported as `top level`: parsing the
 * whole file, esbuild's helpers, and gateway.ts's own statements. The runtime composed at init (createLambdaRuntime) gets a row of its own, and so does V8's
 * compilation of the shipped, minified bundle (measured apart, with vm.Script). Unminified code parses
 * slower than the shipped bundle: read the shares, not the absolute numbers (bench/bundle.ts and
 * bench/cold-compare.ts time the real bundle).
 *
 * A last row, apart from the require: what the first use of the lazily loaded AWS SDK DynamoDB client
 * costs after the shipped bundle's require: its chunk (lib/lazy-chunks.ts) required and a client made with
 * its retry strategy, as lambda/store/lean-client.ts does at a container's first retryable error.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWSLAMBDA_STUB, bundleHandler, LAMBDA_ENV } from './bundle';

const TIMER = `var __T = globalThis.__T = { excl: new Map(), stack: [], ran: new Set() };
function __timed(key, f) {
  const t0 = process.hrtime.bigint(); __T.stack.push(0n);
  try { return f(); } finally {
    const dt = process.hrtime.bigint() - t0; const child = __T.stack.pop();
    __T.excl.set(key, (__T.excl.get(key) || 0n) + dt - child);
    if (__T.stack.length) __T.stack[__T.stack.length - 1] += dt;
  }
}
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  if (!fn) return res;
  const key = __getOwnPropNames(fn)[0]; __T.ran.add(key);
  try { return __timed(key, () => (res = (0, fn[key])(fn = 0))), res; } catch (e) { throw err = [e], e; }
};
// ES modules esbuild hoists run in the file's own scope, one after another: a mark at each module's
// start closes the previous module's segment (its time, less the wrapped modules it loaded).
var __seg;
function __mark(key) {
  const now = process.hrtime.bigint();
  if (__seg) { const child = __T.stack.pop(); __T.excl.set(__seg.key, (__T.excl.get(__seg.key) || 0n) + (now - __seg.t0) - child); }
  __seg = key === null ? undefined : { key, t0: now };
  if (__seg) __T.stack.push(0n);
}
globalThis.__markEnd = () => __mark(null);
var __commonJS = (cb, mod) => function __require() {
  if (mod) return mod.exports;
  const key = __getOwnPropNames(cb)[0]; __T.ran.add(key);
  try { return __timed(key, () => (0, cb[key])((mod = { exports: {} }).exports, mod)), mod.exports; } catch (e) { throw mod = 0, e; }
};
`;

/** esbuild's helpers, as it emits them unminified: replaced by the timed ones above. */
export function instrument(code: string): string {
  const esm = /var __esm = \(fn, res[^]*?\n};\n/.exec(code);
  const cjs = /var __commonJS = \(cb, mod\)[^]*?\n};\n/.exec(code);
  if (!esm || !cjs) throw new Error("esbuild's __esm/__commonJS helpers not found: its output changed");
  // The runtime composed at init (lambda/handlers/gateway.ts): clients, adapters, telemetry.
  const init = /= createLambdaRuntime\(process\.env\);/;
  if (!init.test(code)) throw new Error('gateway.ts no longer composes its runtime at init as expected');
  return code
    .replace(cjs[0], '')
    .replace(esm[0], TIMER)
    .replace(init, '= __timed("createLambdaRuntime() at init", () => createLambdaRuntime(process.env));')
    .replace(MODULE_COMMENT, (line: string, path: string) => `__mark(${JSON.stringify(path)});\n${line}`);
}

/** The comment esbuild writes (unminified) at the top level before each module's code: `// lambda/x.ts`. */
const MODULE_COMMENT = /^\/\/ (?:[^\n]*?\/)?((?:lambda|node_modules)\/[^\n]*\.(?:ts|js|mjs|cjs))$/gm;

/** V8's parse (and pre-parse) of the shipped, minified bundle, as Node's CommonJS loader compiles it. */
const COMPILE = `const fs = require('node:fs'), vm = require('node:vm');
const src = '(function (exports, require, module, __filename, __dirname) {' + fs.readFileSync(process.argv[1], 'utf8') + '\\n})';
const c = process.cpuUsage(); new vm.Script(src, { filename: process.argv[1] }); const u = process.cpuUsage(c);
process.stdout.write(JSON.stringify({ 'compile of the minified bundle (CPU)': (u.user + u.system) / 1e3 }));`;

const PROBE = `const t = process.hrtime.bigint(); require(process.argv[1]); globalThis.__markEnd(); const total = Number(process.hrtime.bigint() - t) / 1e6;
const by = {}; let wrapped = 0;
for (const [k, v] of globalThis.__T.excl) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k); const g = m ? m[1] : k; by[g] = (by[g] || 0) + Number(v) / 1e6; wrapped += Number(v) / 1e6; }
by['top level'] = total - wrapped; by['(total)'] = total;
process.stdout.write(JSON.stringify(by));`;

const FIRST_SDK_USE = 'first use of the lazy SDK DynamoDB client (after the require)';

const SDK_PROBE = `require(process.argv[1]); const { Agent } = require('node:http'); const { Agent: HttpsAgent } = require('node:https');
const t = process.hrtime.bigint(); const { DynamoDBClient } = require('node:module').createRequire(process.argv[1])('@aws-sdk/client-dynamodb');
const client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, requestHandler: { httpAgent: new Agent(), httpsAgent: new HttpsAgent() } });
client.config.retryStrategy().then(() => process.stdout.write(JSON.stringify({ ${JSON.stringify(FIRST_SDK_USE)}: Number(process.hrtime.bigint() - t) / 1e6 }), () => process.exit(0)));`;

/**
 * The gateway bundled unminified into `dir` and instrumented: once required, `globalThis.__T.ran` holds each
 * module esbuild wraps (CommonJS packages, ES modules required lazily) that has run so far, by its path
 * (`lambda/...`, `node_modules/...`); the modules it hoists run at every require.
 */
export async function instrumentedGateway(dir: string): Promise<string> {
  const built = await bundleHandler('lambda/handlers/gateway.ts', dir, { minify: false });
  writeFileSync(built.file, instrument(readFileSync(built.file, 'utf8')));
  return built.file;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-breakdown-'));
  try {
    const shipped = await bundleHandler('lambda/handlers/gateway.ts', join(dir, 'minified'));
    const built = { file: await instrumentedGateway(dir) };
    const stub = join(dir, 'awslambda-stub.cjs');
    writeFileSync(stub, AWSLAMBDA_STUB);
    const samples = new Map<string, number[]>();
    for (let i = 0; i < runs; i++) {
      const r = spawnSync(process.execPath, ['--require', stub, '-e', PROBE, built.file], { env: LAMBDA_ENV, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr.slice(0, 2000));
      const compiled = spawnSync(process.execPath, ['-e', COMPILE, shipped.file], { encoding: 'utf8' });
      if (compiled.status !== 0) throw new Error(compiled.stderr.slice(0, 2000));
      const firstUse = spawnSync(process.execPath, ['--require', stub, '-e', SDK_PROBE, shipped.file], { env: LAMBDA_ENV, encoding: 'utf8' });
      if (firstUse.status !== 0) throw new Error(firstUse.stderr.slice(0, 2000));
      const parsed = { ...(JSON.parse(r.stdout) as Record<string, number>), ...(JSON.parse(compiled.stdout) as Record<string, number>) };
      samples.set(FIRST_SDK_USE, [...(samples.get(FIRST_SDK_USE) ?? []), (JSON.parse(firstUse.stdout) as Record<string, number>)[FIRST_SDK_USE]]);
      for (const [k, v] of Object.entries(parsed)) samples.set(k, [...(samples.get(k) ?? []), v]);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rows = [...samples.entries()].filter(([k]) => k !== FIRST_SDK_USE).map(([k, xs]) => [k, median(xs)] as const).sort((a, b) => b[1] - a[1]);
    console.log(`exclusive require time, median of ${runs} cold loads (ms, unminified bundle):`);
    for (const [k, ms] of rows.filter(([, ms]) => ms >= 0.5)) console.log(`${ms.toFixed(1).padStart(8)}  ${k}`);
    console.log(`${median(samples.get(FIRST_SDK_USE) ?? [0]).toFixed(1).padStart(8)}  ${FIRST_SDK_USE}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
