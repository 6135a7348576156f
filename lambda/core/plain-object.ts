/**
 * `{ ...a, ...b }` for the plain data objects the request path builds (headers, call options, usage, store
 * items), without Node 20's cost of an object spread that more keys follow.
 *
 * Why not the spread: V8 11 (Node 20) gives the copy a spread makes a hidden class (map) that is not linked
 * into the transition tree, so every key added after it (`{ ...a, b }`, `{ ...a, ...b }`, or `c = { ...a };
 * c.b = 1`) makes a new map on every call instead of reusing one: 2.2 µs for a header object against
 * 0.07-0.18 µs here (`npx tsx bench/spread-maps.ts`), 61 new maps per streamed gateway request before this
 * helper and 11 after (`MAPS=1 npx tsx bench/profile-path.ts full 400 stream 0`, 2026-12-03), and the
 * optimised code that had seen those maps is thrown away at the next full GC ("weak objects"
 * deoptimisations), then compiled again. V8 12 (Node 22, Lambda's runtime) caches the spread's map, where
 * this copy costs about 0.05 µs more than a spread: the price of one code path for both. Copying key by key
 * into `{}` grows the map through the shared transition tree on both versions.
 *
 * Own enumerable string keys are copied, later sources winning, as a spread does; symbol keys are not
 * (none of these objects has one). An own `__proto__` key (JSON.parse makes one) is defined as data, as a
 * spread defines it, never set as the prototype.
 */
export function merged<A extends object, B extends object>(a: A, b: B): A & B {
  return copyOwn(copyOwn({}, a), b) as A & B;
}

/** Copies `source`'s own enumerable string keys onto `target` (see merged); returns `target`. */
export function copyOwn<T extends object>(target: T, source: object | undefined): T {
  const out = target as Record<string, unknown>;
  const src = source as Record<string, unknown> | undefined;
  for (const k in src) {
    if (!Object.prototype.hasOwnProperty.call(src, k)) continue;
    if (k === '__proto__') Object.defineProperty(out, k, { value: src[k], enumerable: true, writable: true, configurable: true });
    else out[k] = src[k];
  }
  return target;
}
