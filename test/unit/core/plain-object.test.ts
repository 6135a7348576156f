import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { copyOwn, merged } from '../../../lambda/core/plain-object';

describe('merged / copyOwn', () => {
  it('copies own enumerable keys, later sources winning, as a spread does', () => {
    const base = { a: 1, b: 'x', c: { deep: true } };
    const out = merged(base, { b: 'y', d: null });
    expect(out).toEqual({ ...base, ...{ b: 'y', d: null } });
    expect(Object.keys(out)).toEqual(['a', 'b', 'c', 'd']);
    expect(out.c).toBe(base.c); // shallow, as a spread
    expect(base).toEqual({ a: 1, b: 'x', c: { deep: true } });
  });

  it('skips inherited and non-enumerable keys, and takes undefined sources', () => {
    const proto = { inherited: 1 };
    const src = Object.create(proto, { own: { value: 2, enumerable: true }, hidden: { value: 3, enumerable: false } }) as object;
    expect(merged(src, {})).toEqual({ own: 2 });
    expect(copyOwn({ a: 1 }, undefined)).toEqual({ a: 1 });
  });

  it('defines an own __proto__ key as data, never as the prototype (JSON.parse makes such keys)', () => {
    const hostile = JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as object;
    const out = merged({}, hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.polluted).toBeUndefined();
    expect(Object.keys(out)).toEqual(['a', '__proto__']);
    expect(JSON.stringify(out)).toBe(JSON.stringify({ ...hostile }));
  });

  it('keeps one hidden class per call site where a spread with keys after it makes one per call on Node 20', () => {
    // The module as plain JS, and V8's own answer (%HaveSameMap) in a node that allows natives syntax.
    const helper = transformSync(readFileSync(join(__dirname, '../../../lambda/core/plain-object.ts'), 'utf8'), { loader: 'ts', format: 'cjs' }).code;
    const script = `
      const module = { exports: {} }; (function (exports, module) { ${helper} })(module.exports, module);
      const { merged } = module.exports;
      const src = () => ({ 'content-type': 'a', 'x-amz-target': 'b' });
      const viaHelper = (o) => merged(o, { host: 'h', date: 'd' });
      const viaSpread = (o) => ({ ...o, host: 'h', date: 'd' });
      const same = (f) => { const out = []; for (let i = 0; i < 2000; i++) out.push(f(src())); return %HaveSameMap(out[1998], out[1999]); };
      console.log(JSON.stringify({ helper: same(viaHelper), spread: same(viaSpread), major: Number(process.versions.node.split('.')[0]) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' })) as { helper: boolean; spread: boolean; major: number };
    expect(out.helper).toBe(true);
    // What the helper is for: on Node 20 (V8 11) the spread makes a new map per call; V8 12 caches it.
    if (out.major === 20) expect(out.spread).toBe(false);
  });
});
