/**
 * What an object spread that more keys follow costs on this Node, against the forms the request path uses
 * (lambda/core/plain-object.ts, the usage record in lambda/store/usage-store.ts):
 *
 *   npx tsx bench/spread-maps.ts            (this node; TOLLGATE_BENCH_NODE=<node 22> for Lambda's)
 *
 * Runs the shapes in a child node with --allow-natives-syntax and prints, per shape, µs per object made (a
 * mean over 300,000, after a warm-up) and whether two objects made by the same code share a hidden class
 * (V8's %HaveSameMap). On Node 20 (V8 11) the spread-first forms do not: every call makes new maps.
 * test/unit/core/plain-object.test.ts asks the same question of the same shapes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from 'esbuild';

export interface ShapeResult {
  name: string;
  /** The form the request path uses (true) or the spread-first form it replaced (false). */
  used: boolean;
  us: number;
  sameMap: boolean;
}

/** Each shape made in a child `node` (default: this one); `iterations` timed per shape after 2,000 untimed. */
export function measureShapes(node = process.execPath, iterations = 300_000): { node: string; shapes: ShapeResult[] } {
  const helper = transformSync(readFileSync(join(__dirname, '../lambda/core/plain-object.ts'), 'utf8'), { loader: 'ts', format: 'cjs' }).code;
  const script = `
const module = { exports: {} }; (function (exports, module) { ${helper} })(module.exports, module);
const { merged, copyOwn } = module.exports;
const headers = () => ({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-length': '612' });
const fields = {}; for (let i = 0; i < 36; i++) fields['field' + i] = i % 3 ? 'value' + i : i;
const record = () => ({ ...fields });
const shapes = [
  ['headers: { ...h, host, date }', false, () => ({ ...headers(), host: 'h', 'x-amz-date': 'd' })],
  ['headers: merged(h, { host, date })', true, () => merged(headers(), { host: 'h', 'x-amz-date': 'd' })],
  ['headers: copyOwn({}, h) then host, date', true, () => { const o = copyOwn({}, headers()); o.host = 'h'; o['x-amz-date'] = 'd'; return o; }],
  ['record (36 keys): c = { ...r }, then 7 keys', false, () => { const r = record(); const c = { ...r }; c.pk = 'p'; c.sk = 's'; c.kind = 'request'; c.v = 1; c.dp = 'x'; c.dn = 3; c.ttl = 5; return c; }],
  ['record (36 keys): { 5 keys, ...r }, then dp, dn', true, () => { const r = record(); const c = { pk: 'p', sk: 's', kind: 'request', v: 1, ttl: 5, ...r }; c.dp = 'x'; c.dn = 3; return c; }],
];
const out = [];
for (const [name, used, make] of shapes) {
  const warm = []; for (let i = 0; i < 2000; i++) warm.push(make());
  const sameMap = %HaveSameMap(warm[1998], warm[1999]);
  let keep = []; const t0 = performance.now();
  for (let i = 0; i < ${iterations}; i++) { keep.push(make()); if (keep.length > 100) keep = []; }
  out.push({ name, used, us: ((performance.now() - t0) * 1000) / ${iterations}, sameMap });
}
console.log(JSON.stringify({ node: process.version, shapes: out }));
`;
  return JSON.parse(execFileSync(node, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' })) as { node: string; shapes: ShapeResult[] };
}

if (require.main === module) {
  const res = measureShapes(process.env.TOLLGATE_BENCH_NODE || process.execPath);
  console.log(`Node ${res.node}: µs per object (mean of 300,000), and whether two objects from the same code share a map`);
  console.log('| shape | used on the request path | µs per object | one map per call site |');
  console.log('|---|---|---|---|');
  for (const r of res.shapes) console.log(`| ${r.name} | ${r.used ? 'yes' : 'no (replaced)'} | ${r.us.toFixed(3)} | ${r.sameMap ? 'yes' : 'no: new maps per call'} |`);
}
