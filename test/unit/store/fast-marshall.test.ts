/**
 * fastMarshaller against @aws-sdk/util-dynamodb's marshall: the same output (deep and strict: same keys,
 * same types) or the same error, for arbitrary values and every option that changes the result.
 */
import { marshall, NumberValueImpl as NumberValue, type marshallOptions } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { inspect, isDeepStrictEqual } from 'node:util';
import { fastMarshaller } from '../../../lambda/store/fast-marshall';

// The library's marshall, counted: the fast path must not call it for plain values. Same function otherwise.
jest.mock('@aws-sdk/util-dynamodb', () => {
  const actual = jest.requireActual<typeof import('@aws-sdk/util-dynamodb')>('@aws-sdk/util-dynamodb');
  return { ...actual, marshall: jest.fn(actual.marshall) };
});
const libraryCalls = marshall as jest.MockedFunction<typeof marshall>;

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/**
 * Node's deep strict equality (jest's toStrictEqual reads a map's own `constructor` attribute as its type).
 * A map with an own `__proto__` attribute gets that value as its prototype on both sides (`map[key] = ...`),
 * equal but not the same object: such outcomes are compared as printed and as sent (JSON). On a difference,
 * both sides are shown.
 */
function expectSame(value: unknown, fast: Outcome, library: Outcome): void {
  const printed = (o: Outcome) => `${inspect(o, { depth: Infinity })} ${JSON.stringify(o)}`;
  if (!isDeepStrictEqual(fast, library) && printed(fast) !== printed(library)) throw new Error(`for ${inspect(value, { depth: 6 })}\nfast:    ${inspect(fast, { depth: 8 })}\nlibrary: ${inspect(library, { depth: 8 })}`);
}

const OPTIONS: marshallOptions[] = [
  { convertTopLevelContainer: true, removeUndefinedValues: true }, // what the store uses (dynamo.ts)
  { convertTopLevelContainer: true },
  { convertTopLevelContainer: true, removeUndefinedValues: true, convertEmptyValues: true },
  { convertTopLevelContainer: true, allowImpreciseNumbers: true },
  { convertTopLevelContainer: true, convertClassInstanceToMap: true, removeUndefinedValues: true },
  { removeUndefinedValues: true }, // no top-level container conversion: the library's own path
];

class Point {
  constructor(
    public x = 1,
    public y = 2,
  ) {}
}

/** Values the generators rarely make but the library treats specially. */
const EDGES: unknown[] = [
  '',
  'x',
  0,
  -0,
  1.5,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER - 2,
  1e21,
  NaN,
  Infinity,
  -Infinity,
  true,
  false,
  null,
  undefined,
  10n,
  Symbol('s'),
  () => 1,
  new String('boxed'),
  new Number(3),
  new Boolean(false),
  new Set(['a', 'b']),
  new Set([1, 2]),
  new Set(),
  new Map([['k', 1]]),
  new Uint8Array([1, 2]),
  Buffer.from('hi'),
  new Uint8Array(),
  new NumberValue('12345678901234567890'),
  new Point(),
  new Date(0),
  Object.create(null),
  Object.assign(Object.create(null), { a: 1, b: 'x' }),
  { constructor: 0, a: 1 },
  { constructor: 5, a: 1 },
  { constructor: { name: 'Object' }, a: 1 },
  { constructor: { name: 'Set' } },
  Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
  [1, undefined, 'a', () => 2, null],
  // eslint-disable-next-line no-sparse-arrays
  [1, , 3],
  { a: undefined, b: () => 1, c: [undefined, { d: undefined }] },
  { nested: { deeper: { list: [{ s: '' }, new Set([1]), 7n] } } },
  // The request record and the lease index entry, as the store writes them.
  {
    requestId: 'req_0c0b01c10ea045d49b72819104e4994a',
    admittedAt: 1796187508679,
    inputTokens: 12,
    estimated: false,
    costMicros: 22,
    ttftMs: undefined,
    pk: 'req#2026-12-02',
    counters: [],
    request: { keyId: 'key_be63e52331801ad4', stream: true, reservedMicros: 146 },
  },
];

describe('fastMarshaller', () => {
  it.each(OPTIONS.map((o) => [JSON.stringify(o), o]))('matches marshall on the edge values (%s)', (_name, options) => {
    const fast = fastMarshaller(options);
    for (const value of EDGES) {
      for (const v of [value, { attr: value, other: 'x' }, [value, 1]]) expectSame(v, outcome(() => fast(v)), outcome(() => marshall(v, options)));
    }
  });

  it.each(OPTIONS.map((o) => [JSON.stringify(o), o]))('matches marshall on arbitrary values (%s)', (_name, options) => {
    const fast = fastMarshaller(options);
    const value = fc.anything({
      maxDepth: 4,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withBigInt: true,
      withDate: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withObjectString: true,
    });
    fc.assert(
      fc.property(value, (v) => {
        expectSame(v, outcome(() => fast(v)), outcome(() => marshall(v, options)));
      }),
      { numRuns: 1500 },
    );
  });

  it('takes the fast path for plain values (no call into the library), and the library for the rest', () => {
    const fast = fastMarshaller({ convertTopLevelContainer: true, removeUndefinedValues: true });
    libraryCalls.mockClear();
    expect(fast({ a: 'x', b: [1, true, null], c: { d: 2 }, gone: undefined })).toStrictEqual({
      M: { a: { S: 'x' }, b: { L: [{ N: '1' }, { BOOL: true }, { NULL: true }] }, c: { M: { d: { N: '2' } } } },
    });
    expect(libraryCalls).not.toHaveBeenCalled();
    // Only the subtree the fast path does not know goes to the library.
    const tags = new Set(['a']);
    expect(fast({ a: 'x', tags })).toStrictEqual({ M: { a: { S: 'x' }, tags: { SS: ['a'] } } });
    expect(libraryCalls).toHaveBeenCalledTimes(1);
    expect(libraryCalls.mock.calls[0][0]).toBe(tags);
  });

  it('says when a value went to the library, the only way binary comes out (the lean transport then encodes it)', () => {
    let fallbacks = 0;
    const fast = fastMarshaller({ convertTopLevelContainer: true }, () => fallbacks++);
    fast({ a: 'x', b: [1, { c: true }] });
    expect(fallbacks).toBe(0);
    expect(fast({ a: 'x', bin: new Uint8Array([1]) })).toStrictEqual({ M: { a: { S: 'x' }, bin: { B: new Uint8Array([1]) } } });
    expect(fallbacks).toBe(1);
    // Without convertTopLevelContainer every value is the library's.
    let all = 0;
    fastMarshaller({}, () => all++)({ a: 'x' });
    expect(all).toBe(1);
  });
});
