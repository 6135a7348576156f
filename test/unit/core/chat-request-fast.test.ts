/**
 * The chat request fast path (lambda/core/chat-request-fast.ts) against zod, its reference: whenever the
 * fast path answers, zod accepts the same body and returns a deep-equal value that serialises to the same
 * bytes; and validateChatRequest (fast path on) returns or throws exactly what zod alone does.
 *
 * Bounded: TOLLGATE_FUZZ_RUNS runs per property (default 1500). Replay a failure with the seed fast-check
 * prints: TOLLGATE_FUZZ_SEED=<seed> npx jest test/unit/core/chat-request-fast.test.ts
 */
import fc from 'fast-check';
import OpenAI from 'openai';
import { validateChatRequest, validateChatRequestWithZod } from '../../../lambda/app/validate-request';
import * as fastPath from '../../../lambda/core/chat-request-fast';
import { fastChatRequest } from '../../../lambda/core/chat-request-fast';
import { chatCompletionRequestSchema } from '../../../lambda/core/openai-schema';

const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 1500);
const SEED = process.env.TOLLGATE_FUZZ_SEED ? Number(process.env.TOLLGATE_FUZZ_SEED) : undefined;

/** The fast path's answer, checked against zod's; returns whether the fast path answered. */
function expectSameAsZod(body: unknown): boolean {
  const fast = fastChatRequest(body);
  if (fast === undefined) return false;
  const zod = chatCompletionRequestSchema.safeParse(body);
  expect(zod.success).toBe(true);
  if (!zod.success) return true;
  expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  expect(fast).toStrictEqual(zod.data);
  expectSameKeyOrder(fast, zod.data);
  // New objects all the way down, as zod's: downstream code may mutate the request.
  expect(fast).not.toBe(body);
  expect(fast.messages).not.toBe((body as { messages: unknown }).messages);
  fast.messages.forEach((m, i) => expect(m).not.toBe((body as { messages: unknown[] }).messages[i]));
  return true;
}

function expectSameKeyOrder(a: unknown, b: unknown): void {
  if (typeof a !== 'object' || a === null) return;
  expect(Object.keys(a)).toEqual(Object.keys(b as object));
  for (const k of Object.keys(a)) expectSameKeyOrder((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
}

type Outcome = { ok: unknown } | { error: { name: string; message: string; status?: unknown; param?: unknown; code?: unknown } };
function outcome(validate: (body: unknown) => unknown, body: unknown): Outcome {
  try {
    return { ok: validate(body) };
  } catch (e) {
    const err = e as Error & { status?: unknown; param?: unknown; code?: unknown };
    return { error: { name: err.constructor.name, message: err.message, status: err.status, param: err.param, code: err.code } };
  }
}

// ---- generators: realistic request bodies and near misses ----

/**
 * A value's generators: valid ones, and near misses (invalid, or valid only once zod strips or keeps
 * something). `edges` lists boundary values, valid and not; the near misses draw from them (and more),
 * and one test runs through all of them.
 */
interface Gen {
  valid: fc.Arbitrary<unknown>;
  near: fc.Arbitrary<unknown>;
  edges: unknown[];
}
const gen = (valid: fc.Arbitrary<unknown>, edges: unknown[], moreNear?: fc.Arbitrary<unknown>): Gen => ({
  valid,
  edges,
  near: moreNear ? fc.oneof(fc.constantFrom(...edges), moreNear) : fc.constantFrom(...edges),
});
/** Mostly valid, sometimes a near miss. */
const mixed = (g: Gen) => fc.oneof({ weight: 14, arbitrary: g.valid }, { weight: 1, arbitrary: g.near });
const ABSENT = Symbol('absent');
/** The value, or (in `absent` of `present + absent` cases) no key at all. */
const maybe = <T>(arb: fc.Arbitrary<T>, present: number, absent: number) =>
  fc.oneof({ weight: present, arbitrary: arb }, { weight: absent, arbitrary: fc.constant<typeof ABSENT>(ABSENT) });
const withoutAbsent = (rec: Record<string, unknown>) => Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== ABSENT));
/** `obj` with `key` set to `value` (an existing key keeps its place), or without it for ABSENT. */
const withKey = (obj: unknown, key: string, value: unknown) => withoutAbsent({ ...(obj as object), [key]: value });

const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 3 }), fc.integer(), fc.constant([]), fc.constant({}));
const NOT_A_NUMBER = ['1', true, [], {}, null, undefined];
/** Inside [min, max]; edges: the bounds, just outside them, fractions for integers, -0, non-finite, beyond safe integers, other types. */
const numberGen = (min: number, max: number, int = false): Gen =>
  gen(
    fc.oneof(
      fc.constantFrom(min, max, null),
      int ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) : fc.double({ min, max, noNaN: true }),
    ),
    [
      min,
      max,
      ...(int ? [min - 1, max + 1, min + 0.5, max - 0.5] : [min - 1e-9, max + 1e-9, min - 1, max + 1, (min + max) / 2]),
      ...[-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 1e-300, Number.MAX_VALUE],
      ...NOT_A_NUMBER,
    ],
    anyJson,
  );
const boolGen = (nullable = true) => gen(nullable ? fc.constantFrom(true, false, null) : fc.boolean(), [true, false, null, undefined, 'true', 0, 1, {}, []]);
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'héllo 👋', '\u2028\u0000', '\ud800'), fc.string({ unit: 'grapheme', maxLength: 6 }));
const stringGen = (nullable: boolean) => gen(nullable ? fc.oneof(text, fc.constant(null)) : text, ['', 'x', '\ud800', null, undefined, 1, true, [], {}]);

const model = gen(
  fc.oneof(
    fc.constantFrom('gpt-4o-mini', 'openai/gpt-4.1', '@cf/meta/llama-3.1-8b', 'llama3:8b-instruct-q4_K_M', 'accounts/fireworks/models/x', 'a', 'x'.repeat(256)),
    fc.stringMatching(/^[A-Za-z0-9@][A-Za-z0-9._:/@+=~-]{0,40}$/),
  ),
  ['a', '@x', 'x'.repeat(256), '', 'a#b', ' gpt', 'gpt\n', '-abc', '.x', 'x'.repeat(257), 'modèle', 42, null, undefined],
  fc.string({ maxLength: 8 }),
);
const cacheControl = gen(fc.oneof(fc.constant({ type: 'ephemeral' }), fc.record({ type: fc.constant('ephemeral'), ttl: fc.constantFrom('5m', '1h') })), [
  { type: 'ephemeral' },
  { type: 'ephemeral', ttl: '1h' },
  { ttl: '5m', type: 'ephemeral' },
  { type: 'persistent' },
  { type: 'ephemeral', ttl: '2h' },
  { type: 'ephemeral', ttl: undefined },
  { type: 'ephemeral', ttl: null },
  { type: 'ephemeral', extra: 1 },
  { ttl: '5m' },
  null,
  'ephemeral',
  undefined,
]);
const textPart = gen(fc.record({ type: fc.constant('text'), text, cache_control: cacheControl.valid }, { requiredKeys: ['type', 'text'] }), [
  { type: 'text', text: '' },
  { text: 'a', type: 'text' },
  { type: 'text' },
  { type: 'text', text: 5 },
  { type: 'text', text: undefined },
  { type: 'txt', text: 'a' },
  { type: 'text', text: 'a', extra: true },
  { text: 'a' },
  null,
  'text',
  { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
  { type: 'image_url', image_url: { url: '' } },
  ...cacheControl.edges.map((cache_control) => ({ type: 'text', text: 'a', cache_control })),
]);
/** One near miss among valid items. */
const arrayWithOneNear = (g: Gen, maxLength: number) =>
  fc.tuple(fc.array(g.valid, { maxLength: maxLength - 1 }), g.near, fc.nat()).map(([items, bad, at]) => items.toSpliced(at % (items.length + 1), 0, bad));
const content = gen(
  fc.oneof({ weight: 3, arbitrary: text }, { weight: 1, arbitrary: fc.array(textPart.valid, { maxLength: 3 }) }),
  ['', 'x', null, 42, {}, [], undefined, ABSENT, ...textPart.edges.map((p) => [p])],
  arrayWithOneNear(textPart, 3),
);
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
/** A valid message: the keys its role has. */
const validMessage = fc.constantFrom(...ROLES).chain((role) =>
  fc
    .record({
      role: fc.constant(role),
      content: role === 'assistant' ? maybe(fc.oneof(content.valid, fc.constant(null)), 5, 1) : content.valid,
      name: role === 'tool' ? fc.constant(ABSENT) : maybe(text, 1, 3),
      refusal: role === 'assistant' ? maybe(fc.oneof(text, fc.constant(null)), 1, 3) : fc.constant(ABSENT),
      tool_call_id: role === 'tool' ? fc.oneof(fc.constantFrom('call_1', 'x'), text.filter((t) => t !== '')) : fc.constant(ABSENT),
    })
    .map(withoutAbsent),
);
/** Each message key's boundary values: missing, undefined, wrong types, empty, and keys zod strips. */
const MESSAGE_KEY_EDGES: Record<string, unknown[]> = {
  role: ['wizard', 'User', '', null, undefined, ABSENT, 3],
  name: ['n', '', 1, null, undefined],
  refusal: ['no', '', null, 1, undefined],
  tool_call_id: ['c', '', 1, null, undefined, ABSENT],
  tool_calls: [[], [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }], 'x', undefined],
  thinking_blocks: [[], undefined],
  extra: [1, null, undefined],
};
const roleMessage = (role: string) => (role === 'tool' ? { role, content: 'x', tool_call_id: 'c' } : { role, content: 'x' });
const message = gen(
  validMessage,
  [
    null,
    'hi',
    [],
    ...ROLES.flatMap((role) => [
      ...Object.entries(MESSAGE_KEY_EDGES).flatMap(([key, values]) => values.map((v) => withKey(roleMessage(role), key, v))),
      ...content.edges.map((c) => withKey(roleMessage(role), 'content', c)),
    ]),
  ],
  fc.oneof(
    fc.tuple(validMessage, fc.constantFrom(...Object.keys(MESSAGE_KEY_EDGES))).chain(([m, key]) => fc.constantFrom(...MESSAGE_KEY_EDGES[key]).map((v) => withKey(m, key, v))),
    fc.tuple(validMessage, content.near).map(([m, c]) => withKey(m, 'content', c)),
  ),
);
const stop = gen(
  fc.oneof(text, fc.array(text, { maxLength: 4 }), fc.constant(null)),
  ['', 'x', [], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], [1], ['a', null], ['a', undefined], 5, {}, null, undefined],
  fc.array(text, { minLength: 5, maxLength: 6 }),
);
const recordGen = (value: fc.Arbitrary<unknown>, key: fc.Arbitrary<string>, valid: unknown, invalid: unknown[]) =>
  gen(fc.oneof(fc.dictionary(key, value, { maxKeys: 4 }), fc.constant(null)), [
    null,
    {},
    { b: valid, a: valid, 10: valid, 2: valid },
    ...invalid.map((v) => ({ a: valid, b: v })),
    JSON.parse('{"__proto__":"x"}'),
    JSON.parse('{"a":"b","__proto__":"x"}'),
    [],
    'm',
    undefined,
  ]);

/** Every top-level field the fast path handles. */
const fields: Record<string, Gen> = {
  model,
  messages: gen(fc.array(message.valid, { minLength: 1, maxLength: 5 }), [[], {}, 'hi', [null], undefined, ABSENT, ...message.edges.map((m) => [m])], arrayWithOneNear(message, 5)),
  stream: boolGen(),
  stream_options: gen(fc.oneof(fc.constant(null), fc.constant({}), fc.record({ include_usage: fc.boolean() })), [
    null,
    {},
    { include_usage: true },
    { include_usage: false },
    { include_usage: 'yes' },
    { include_usage: true, extra: 1 },
    { include_usage: undefined },
    { include_usage: null },
    true,
    [],
    undefined,
  ]),
  temperature: numberGen(0, 2),
  top_p: numberGen(0, 1),
  max_tokens: numberGen(1, Number.MAX_SAFE_INTEGER, true),
  max_completion_tokens: numberGen(1, Number.MAX_SAFE_INTEGER, true),
  stop,
  parallel_tool_calls: boolGen(false),
  seed: numberGen(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
  user: stringGen(false),
  metadata: recordGen(text, fc.string({ maxLength: 5 }), 'v', [1, null, true, undefined, {}]),
  n: numberGen(1, 128, true),
  presence_penalty: numberGen(-2, 2),
  frequency_penalty: numberGen(-2, 2),
  logit_bias: recordGen(fc.integer({ min: -100, max: 100 }), fc.stringMatching(/^[0-9]{1,5}$/), -100, [NaN, Infinity, 'x', null, undefined]),
  logprobs: boolGen(),
  top_logprobs: numberGen(0, 20, true),
  reasoning_effort: gen(fc.constantFrom('minimal', 'low', 'medium', 'high', null), ['minimal', 'high', null, 'max', 'LOW', '', 1, undefined]),
  service_tier: stringGen(true),
  store: boolGen(),
};
/** Top-level keys the fast path leaves to zod (valid or not), and an unknown one. */
const otherFields: Record<string, fc.Arbitrary<unknown>> = {
  tools: fc.constantFrom([], [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]),
  tool_choice: fc.constantFrom('auto', 'none', 'required'),
  response_format: fc.constantFrom({ type: 'text' }, { type: 'json_object' }),
  temprature: fc.constant(1),
};

/** The entries in an order given by `order` (keys sort by it), so the input's key order varies. */
function shuffled(entries: Array<[string, unknown]>, order: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries.map((e, i) => ({ e, at: order[i] ?? 0 })).sort((x, y) => x.at - y.at).map((x) => x.e)) out[k] = v;
  return out;
}
const order = fc.array(fc.nat(), { minLength: 30, maxLength: 30 });

/**
 * A body with any mix of valid values and near misses: a random subset of the fields (model and messages
 * nearly always), in a random order; now and then a field the fast path leaves to zod, a key with the value
 * undefined, or an own `__proto__` key (as JSON.parse makes it).
 */
const mixedBody = fc
  .tuple(
    fc.record(Object.fromEntries(Object.entries(fields).map(([k, g]) => [k, maybe(mixed(g), k === 'model' || k === 'messages' ? 40 : 4, k === 'model' || k === 'messages' ? 1 : 36)]))),
    fc.record(Object.fromEntries(Object.entries(otherFields).map(([k, arb]) => [k, maybe(arb, 1, 40)]))),
    order,
    fc.nat(40),
  )
  .map(([rec, other, at, odd]) => {
    const out = shuffled(Object.entries(withoutAbsent({ ...rec, ...other })), at);
    const keys = Object.keys(out);
    if (odd === 0 && keys.length > 0) out[keys[keys.length - 1]] = undefined;
    if (odd === 1) Object.defineProperty(out, '__proto__', { value: { temperature: 1 }, enumerable: true, writable: true, configurable: true });
    return out;
  });

/** A valid body (a random subset of the fields, in a random order) with exactly one thing off. */
const validBody = fc
  .tuple(fc.record(Object.fromEntries(Object.entries(fields).map(([k, g]) => [k, k === 'model' || k === 'messages' ? g.valid : maybe(g.valid, 1, 3)]))), order)
  .map(([rec, at]) => shuffled(Object.entries(withoutAbsent(rec)), at));
const oneNearMiss = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(validBody, fc.constantFrom(...Object.keys(fields))).chain(([b, key]) => fields[key].near.map((v) => withKey(b, key, v))) },
  { weight: 1, arbitrary: fc.tuple(validBody, fc.constantFrom(...Object.keys(otherFields))).chain(([b, key]) => otherFields[key].map((v) => withKey(b, key, v))) },
  { weight: 1, arbitrary: fc.tuple(validBody, fc.constantFrom('model', 'messages')).map(([b, key]) => withKey(b, key, ABSENT)) },
);

describe('Function: fastChatRequest', () => {
  /** The differential check of one body; returns whether the fast path answered and whether zod accepted. */
  function check(viaJson: boolean, raw: unknown): { answered: boolean; zodOk: boolean } {
    // Bodies as the gateway gets them (JSON.parse) and as objects (undefined values, NaN, -0 survive).
    const b = viaJson ? JSON.parse(JSON.stringify(raw)) : raw;
    const answered = expectSameAsZod(b);
    const withFast = outcome(validateChatRequest, b);
    const withZod = outcome(validateChatRequestWithZod, b);
    expect(withFast).toStrictEqual(withZod);
    if ('ok' in withFast && 'ok' in withZod) expect(JSON.stringify(withFast.ok)).toBe(JSON.stringify(withZod.ok));
    return { answered, zodOk: 'ok' in withZod };
  }

  it('answers only when zod accepts, with a deep-equal result in the same key order; validateChatRequest returns or throws exactly as zod alone', () => {
    let answered = 0;
    let zodOnly = 0;
    fc.assert(
      fc.property(fc.boolean(), mixedBody, (viaJson, raw) => {
        const r = check(viaJson, raw);
        if (r.answered) answered++;
        else if (r.zodOk) zodOnly++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Both sides exercised: a generator that only made invalid bodies would prove nothing.
    expect(answered).toBeGreaterThan(RUNS * 0.15);
    expect(zodOnly).toBeGreaterThan(RUNS * 0.05);
  });

  it('agrees with zod on valid bodies one step off: each bound, type, key and value of each field', () => {
    let answered = 0;
    fc.assert(
      fc.property(fc.boolean(), fc.oneof(validBody, oneNearMiss), (viaJson, raw) => {
        if (check(viaJson, raw).answered) answered++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(answered).toBeGreaterThan(RUNS * 0.3);
  });

  it('agrees with zod on every listed edge value of every field, message key (on each role), content part and cache_control', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    let cases = 0;
    for (const [key, g] of Object.entries(fields)) {
      for (const value of g.edges) {
        for (const viaJson of [false, true]) check(viaJson, withKey(base, key, value));
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(500);
  });

  it('is the path validateChatRequest takes for a common body, and zod the one for the rest', () => {
    const spy = jest.spyOn(fastPath, 'fastChatRequest');
    try {
      const common = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 64, stream: true, stream_options: { include_usage: true } };
      expect(validateChatRequest(common)).toStrictEqual(validateChatRequestWithZod(common));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.results[0].value).toBeDefined();
      validateChatRequest({ ...common, tools: [{ type: 'function', function: { name: 'f' } }] });
      expect(spy.mock.results[1].value).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
  });

  it('orders its output as the schema declares its keys, whatever the input order', () => {
    const all = {
      store: false,
      service_tier: 'auto',
      reasoning_effort: 'low',
      top_logprobs: 2,
      logprobs: true,
      logit_bias: { 50256: -100, 13: 5 },
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      n: 2,
      metadata: { b: '1', a: '2', 10: '3' },
      user: 'u',
      seed: -7,
      parallel_tool_calls: true,
      stop: ['\n', 'END'],
      max_completion_tokens: 100,
      max_tokens: 50,
      top_p: 0.9,
      temperature: 0,
      stream_options: { include_usage: false },
      stream: true,
      messages: [
        { content: 'rules', role: 'system', name: 'ops' },
        { name: 'bob', content: [{ cache_control: { ttl: '1h', type: 'ephemeral' }, text: 'hi', type: 'text' }], role: 'user' },
        { refusal: null, name: 'a', content: null, role: 'assistant' },
        { tool_call_id: 'c1', content: [], role: 'tool' },
      ],
      model: 'openai/gpt-4.1',
    };
    expect(expectSameAsZod(all)).toBe(true);
    expect(Object.keys(fastChatRequest(all)!)).toEqual(Object.keys(chatCompletionRequestSchema.shape).filter((k) => k in all));
  });

  it('takes what the openai npm client sends for the common calls', async () => {
    const sent: string[] = [];
    const client = new OpenAI({
      apiKey: 'sk-test',
      baseURL: 'http://tollgate.invalid/v1',
      maxRetries: 0,
      fetch: async (_url, init) => {
        sent.push(String(init?.body));
        throw new Error('captured');
      },
    });
    const calls: OpenAI.Chat.ChatCompletionCreateParams[] = [
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] },
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], stream: true, stream_options: { include_usage: true } },
      {
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'What is a toll?' },
          { role: 'assistant', content: 'A fee.' },
          { role: 'user', content: [{ type: 'text', text: 'And a gateway?' }] },
        ],
        temperature: 0.2,
        top_p: 1,
        max_tokens: 256,
        stop: ['\n\n'],
        seed: 7,
        user: 'user-42',
        n: 1,
        presence_penalty: 0,
        frequency_penalty: 0,
      },
      {
        model: 'o4-mini',
        messages: [{ role: 'developer', content: 'Answer in JSON.' }, { role: 'user', content: 'colours?' }],
        reasoning_effort: 'low',
        max_completion_tokens: 1000,
        store: true,
        metadata: { feature: 'search' },
        service_tier: 'auto',
        logprobs: true,
        top_logprobs: 3,
      },
    ];
    for (const params of calls) await expect(client.chat.completions.create(params)).rejects.toThrow();
    expect(sent).toHaveLength(calls.length);
    for (const json of sent) expect(expectSameAsZod(JSON.parse(json))).toBe(true);
  });

  it('leaves tools, images, response formats, tool calls, stripped keys and undefined values to zod', () => {
    const user = { role: 'user', content: 'x' };
    const fallbacks: unknown[] = [
      { model: 'm', messages: [user], tools: [{ type: 'function', function: { name: 'f' } }] },
      { model: 'm', messages: [user], response_format: { type: 'json_object' } },
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] },
      { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] },
      { model: 'm', messages: [{ role: 'user', content: 'x', extra: 1 }] },
      { model: 'm', messages: [user], stream_options: { include_usage: true, extra: 1 } },
      { model: 'm', messages: [user], temperature: undefined },
      JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"__proto__":"x"}}'),
    ];
    for (const b of fallbacks) {
      expect(fastChatRequest(b)).toBeUndefined();
      expect(chatCompletionRequestSchema.safeParse(b).success).toBe(true);
      expect(validateChatRequest(b)).toStrictEqual(validateChatRequestWithZod(b));
    }
  });

  it('agrees with zod on objects JSON.parse does not make: null prototype, inherited or non-enumerable keys, class instances', () => {
    const messages = [{ role: 'user', content: 'x' }];
    class Request {
      model = 'm';
      messages = messages;
    }
    const exotic: unknown[] = [
      Object.assign(Object.create(null), { model: 'm', messages }),
      Object.assign(Object.create({ temperature: 5 }), { model: 'm', messages }),
      Object.defineProperty({ model: 'm', messages }, 'temperature', { value: 5, enumerable: false }),
      Object.defineProperty({ model: 'm', messages }, 'temperature', { value: 0.5, enumerable: false }),
      new Request(),
      { model: 'm', messages: [Object.assign(Object.create(null), { role: 'user', content: 'x' })] },
      { model: 'm', messages: [Object.defineProperty({ role: 'tool', content: 'x' }, 'tool_call_id', { value: 'c', enumerable: false })] },
      { model: 'm', messages, metadata: Object.defineProperty({}, 'a', { value: 1, enumerable: false }) },
    ];
    for (const b of exotic) {
      expectSameAsZod(b);
      expect(outcome(validateChatRequest, b)).toStrictEqual(outcome(validateChatRequestWithZod, b));
    }
  });
});
