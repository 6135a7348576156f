/**
 * Nesting depth of a parsed JSON value, measured without recursion. Deeply nested input (a few KB can
 * nest thousands of levels) would overflow the stack of every recursive consumer downstream
 * (JSON.stringify, the SDKs); the gateway refuses it up front instead.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests deeper than `max` levels of objects/arrays. */
export function jsonDepthExceeds(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: Array<{ v: unknown; d: number }> = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, d: d + 1 });
    }
  }
  return false;
}
