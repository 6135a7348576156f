import { measureShapes } from '../../../bench/spread-maps';
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
    // V8's own answer (%HaveSameMap) in a child node, for the shapes bench/spread-maps.ts times.
    const { node, shapes } = measureShapes(process.execPath, 1_000);
    expect(shapes.filter((s) => s.used).length).toBeGreaterThanOrEqual(3);
    for (const s of shapes.filter((x) => x.used)) expect({ shape: s.name, sameMap: s.sameMap }).toEqual({ shape: s.name, sameMap: true });
    // What the forms are for: on Node 20 (V8 11) the spread-first ones make new maps per call; V8 12 caches them.
    if (node.startsWith('v20.')) for (const s of shapes.filter((x) => !x.used)) expect({ shape: s.name, sameMap: s.sameMap }).toEqual({ shape: s.name, sameMap: false });
  });
});
