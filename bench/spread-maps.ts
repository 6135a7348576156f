/**
 * What an object spread that more keys follow costs on this Node, against lambda/core/plain-object.ts:
 *
 *   npx tsx bench/spread-maps.ts            (this node; TOLLGATE_BENCH_NODE=<node 22> for Lambda's)
 *
 * Runs the shapes the request path builds in a child node with --allow-natives-syntax and prints, per
 * shape, µs per object made (a mean over 300,000, after a warm-up) and whether two objects made by the same
 * code share a hidden class (V8's %HaveSameMap). On Node 20 (V8 11) the spread forms do not: every call
 * makes new maps, which is why the request path builds these objects with `merged` / `copyOwn`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from 'esbuild';

const helper = transformSync(readFileSync(join(__dirname, '../lambda/core/plain-object.ts'), 'utf8'), { loader: 'ts', format: 'cjs' }).code;

const script = `
const module = { exports: {} }; (function (exports, module) { ${helper} })(module.exports, module);
const { merged, copyOwn } = module.exports;
const headers = () => ({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-length': '612' });
const fields = {}; for (let i = 0; i < 36; i++) fields['field' + i] = i % 3 ? 'value' + i : i;
const record = () => ({ ...fields });
const shapes = {
  'headers: { ...h, host, date }': () => ({ ...headers(), host: 'h', 'x-amz-date': 'd' }),
  'headers: merged(h, { host, date })': () => merged(headers(), { host: 'h', 'x-amz-date': 'd' }),
  'headers: copyOwn({}, h) then host, date': () => { const o = copyOwn({}, headers()); o.host = 'h'; o['x-amz-date'] = 'd'; return o; },
  'record (36 keys): c = { ...r }, then 7 keys': () => { const r = record(); const c = { ...r }; c.pk = 'p'; c.sk = 's'; c.kind = 'request'; c.v = 1; c.dp = 'x'; c.dn = 3; c.ttl = 5; return c; },
  'record (36 keys): { 7 keys, ...r }': () => { const r = record(); return { pk: 'p', sk: 's', kind: 'request', v: 1, dp: 'x', dn: 3, ttl: 5, ...r }; },
};
const out = [];
for (const [name, make] of Object.entries(shapes)) {
  const warm = []; for (let i = 0; i < 2000; i++) warm.push(make());
  const same = %HaveSameMap(warm[1998], warm[1999]);
  let keep = []; const t0 = performance.now();
  for (let i = 0; i < 300000; i++) { keep.push(make()); if (keep.length > 100) keep = []; }
  out.push({ name, us: (performance.now() - t0) / 300, same });
}
console.log(JSON.stringify({ node: process.version, out }));
`;

const node = process.env.TOLLGATE_BENCH_NODE || process.execPath;
const res = JSON.parse(execFileSync(node, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' })) as { node: string; out: Array<{ name: string; us: number; same: boolean }> };
console.log(`Node ${res.node}: µs per object (mean of 300,000), and whether two objects from the same code share a map`);
console.log('| shape | µs per object | one map per call site |');
console.log('|---|---|---|');
for (const r of res.out) console.log(`| ${r.name} | ${r.us.toFixed(3)} | ${r.same ? 'yes' : 'no: new maps per call'} |`);
