/**
 * @aws-sdk/util-dynamodb's `marshall`, in one pass for the values the store writes: strings, safe numbers,
 * booleans, null, arrays and plain objects. util-dynamodb walks each value through a dozen type checks by
 * constructor name, and lib-dynamodb's key-node walk in front of it (lean-dynamo.ts) calls it once per
 * attribute; for the request record (~37 attributes) and the lease index entry that was ~3 % of the
 * gateway's CPU per request and a tenth of its allocations (bench/profile-path.ts, TOLLGATE_BENCH_ALLOC=1).
 *
 * Everything else (Sets, Maps, binary, NumberValue, bigint, boxed primitives, class instances, special or
 * imprecise numbers, undefined, empty strings under convertEmptyValues) goes to util-dynamodb's own
 * `marshall`, subtree by subtree, so the output and the errors are the same: fast-check compares the two
 * on arbitrary values and every option combination (test/unit/store/fast-marshall.test.ts).
 */
import { marshall, type marshallOptions } from '@aws-sdk/util-dynamodb';

/**
 * `marshall(value, options)`, faster; exact only with `convertTopLevelContainer` (lib-dynamodb's default),
 * else the library's own. `onFallback` is called whenever a value goes to the library's marshall: only
 * there can binary (B, BS) come out, which the lean transport must then encode (lean-dynamo-http.ts).
 */
export function fastMarshaller(options: marshallOptions, onFallback?: () => void): (value: unknown) => unknown {
  if (!options.convertTopLevelContainer)
    return (value) => {
      onFallback?.();
      return marshall(value, options);
    };
  const removeUndefined = !!options.removeUndefinedValues;
  const emptyToNull = !!options.convertEmptyValues;
  // util-dynamodb's filter for list members and map values (functions are dropped; undefined too if asked).
  const kept = (v: unknown) => typeof v !== 'function' && (v !== undefined || !removeUndefined);

  const toAttr = (data: unknown): unknown => {
    switch (typeof data) {
      case 'string':
        if (data.length > 0 || !emptyToNull) return { S: data };
        break;
      case 'number':
        // NaN and ±Infinity fail both comparisons; out-of-range numbers throw there (or pass with allowImpreciseNumbers).
        if (data <= Number.MAX_SAFE_INTEGER && data >= Number.MIN_SAFE_INTEGER) return { N: String(data) };
        break;
      case 'boolean':
        return { BOOL: data };
      case 'object': {
        if (data === null) return { NULL: true };
        if (Array.isArray(data)) return { L: data.filter(kept).map(toAttr) };
        // util-dynamodb's own test for a map (after Array, Set and Map, whose constructors are not named Object).
        const ctor = (data as { constructor?: { name?: unknown } }).constructor;
        if (ctor ? ctor.name === 'Object' : true) {
          const map: Record<string, unknown> = {};
          const obj = data as Record<string, unknown>;
          for (const key in obj) {
            const value = obj[key];
            if (kept(value)) map[key] = toAttr(value);
          }
          return { M: map };
        }
        break;
      }
    }
    onFallback?.();
    return marshall(data, options);
  };
  return toAttr;
}
