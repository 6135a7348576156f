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

/** Mostly valid values, sometimes a near miss. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, nearMiss: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 14, arbitrary: valid }, { weight: 1, arbitrary: nearMiss as fc.Arbitrary<T | U> });
const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 3 }), fc.integer(), fc.constant([]), fc.constant({}));
const oddNumbers = fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 1.5, 1e-300, Number.MAX_VALUE, -1);
/** A number around [min, max]: the bounds, just outside them, inside, fractions, non-finite, wrong types, null. */
const numberNear = (min: number, max: number) =>
  mostly(
    fc.oneof(fc.constantFrom(min, max, (min + max) / 2, null), fc.double({ min, max, noNaN: true })),
    fc.oneof(fc.constantFrom(min - 1e-9, max + 1e-9, min - 1, max + 1, '1', true), oddNumbers, fc.double()),
  );
const intNear = (min: number, max: number) =>
  mostly(
    fc.oneof(fc.constantFrom(min, max, null), fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) })),
    fc.oneof(fc.constantFrom(min - 1, max + 1, min + 0.5, '8', false), oddNumbers, fc.integer()),
  );
const nullableBool = mostly(fc.oneof(fc.boolean(), fc.constant(null)), fc.oneof(fc.constantFrom('true', 0, 1, {}), anyJson));

const modelName = mostly(
  fc.oneof(
    fc.constantFrom('gpt-4o-mini', 'openai/gpt-4.1', '@cf/meta/llama-3.1-8b', 'llama3:8b-instruct-q4_K_M', 'accounts/fireworks/models/x', 'a', 'x'.repeat(256)),
    fc.stringMatching(/^[A-Za-z0-9@][A-Za-z0-9._:/@+=~-]{0,40}$/),
  ),
  fc.oneof(fc.constantFrom('', 'a#b', ' gpt', 'gpt\n', '-abc', '.x', 'x'.repeat(257), 'modèle', 42, null), fc.string({ maxLength: 8 })),
);
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'héllo 👋', '\u2028\u0000', '\ud800'), fc.string({ unit: 'grapheme', maxLength: 6 }));
const cacheControl = mostly(
  fc.oneof(fc.constant({ type: 'ephemeral' }), fc.record({ type: fc.constant('ephemeral'), ttl: fc.constantFrom('5m', '1h') })),
  fc.constantFrom({ type: 'persistent' }, { type: 'ephemeral', ttl: '2h' }, { type: 'ephemeral', ttl: undefined }, { type: 'ephemeral', extra: 1 }, null, 'ephemeral'),
);
const textPart = mostly(
  fc.record({ type: fc.constant('text'), text, cache_control: cacheControl }, { requiredKeys: ['type', 'text'] }),
  fc.oneof(
    fc.constantFrom({ type: 'text' }, { type: 'text', text: 5 }, { type: 'txt', text: 'a' }, { type: 'text', text: 'a', extra: true }, { type: 'text', text: 'a', cache_control: undefined }),
    fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.constantFrom('data:image/png;base64,AAAA', '') }) }),
  ),
);
const content = mostly(fc.oneof({ weight: 3, arbitrary: text }, { weight: 1, arbitrary: fc.array(textPart, { maxLength: 3 }) }), fc.oneof(fc.constant(null), anyJson));
const ABSENT = Symbol('absent');
/** The value, or (in `absent` of `present + absent` cases) no key at all. */
const maybe = <T>(arb: fc.Arbitrary<T>, present: number, absent: number) =>
  fc.oneof({ weight: present, arbitrary: arb }, { weight: absent, arbitrary: fc.constant<typeof ABSENT>(ABSENT) });
const withoutAbsent = (rec: Record<string, unknown>) => Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== ABSENT));

/** Mostly the keys the role has (rarely one zod strips, or none at all), so that most messages are valid. */
const message = mostly(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), fc.constantFrom('wizard', 'User', '', null, 3)).chain((role) => {
  const owns = (key: string) => (key === 'name' ? role !== 'tool' : key === 'refusal' ? role === 'assistant' : key === 'tool_call_id' && role === 'tool');
  const rarely = (key: string, arb: fc.Arbitrary<unknown>) => maybe(arb, 1, owns(key) ? 3 : 80);
  return fc
    .record({
      role: maybe(fc.constant(role), 40, 1),
      content: maybe(content, role === 'assistant' ? 5 : 40, 1),
      name: rarely('name', mostly(text, anyJson)),
      refusal: rarely('refusal', mostly(fc.oneof(text, fc.constant(null)), anyJson)),
      tool_call_id: role === 'tool' ? maybe(mostly(fc.constantFrom('call_1', 'x'), fc.oneof(text, anyJson)), 40, 1) : rarely('tool_call_id', text),
      tool_calls: rarely('tool_calls', fc.constantFrom([], [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }], 'x')),
      extra: rarely('extra', anyJson),
    })
    .map(withoutAbsent);
});
const stop = mostly(
  fc.oneof(text, fc.array(text, { maxLength: 4 }), fc.constant(null)),
  fc.oneof(fc.array(text, { minLength: 5, maxLength: 6 }), fc.constant([1]), anyJson),
);
const stringRecord = mostly(
  fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), text, { maxKeys: 4 }), fc.constant(null)),
  fc.oneof(fc.dictionary(fc.string({ maxLength: 3 }), anyJson, { minKeys: 1, maxKeys: 2 }), fc.constant(JSON.parse('{"__proto__":"x"}')), fc.constant([]), fc.constant('m')),
);

/** Every top-level field: the fast path's, the ones it leaves to zod, an unknown one. */
const fields = {
  model: modelName,
  messages: mostly(fc.array(message, { minLength: 1, maxLength: 5 }), fc.oneof(fc.constant([]), anyJson, fc.constant([null]))),
  stream: nullableBool,
  stream_options: mostly(
    fc.oneof(fc.constant(null), fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] })),
    fc.constantFrom({ include_usage: 'yes' }, { include_usage: true, extra: 1 }, { include_usage: undefined }, true, []),
  ),
  temperature: numberNear(0, 2),
  top_p: numberNear(0, 1),
  max_tokens: intNear(1, Number.MAX_SAFE_INTEGER),
  max_completion_tokens: intNear(1, 100_000),
  stop,
  parallel_tool_calls: mostly(fc.boolean(), fc.constant(null)),
  seed: intNear(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  user: mostly(text, fc.constantFrom(null, 1)),
  metadata: stringRecord,
  n: intNear(1, 128),
  presence_penalty: numberNear(-2, 2),
  frequency_penalty: numberNear(-2, 2),
  logit_bias: mostly(
    fc.oneof(fc.dictionary(fc.stringMatching(/^[0-9]{1,5}$/), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 }), fc.constant(null)),
    fc.constantFrom({ 50256: 'x' }, { 1: NaN }, []),
  ),
  logprobs: nullableBool,
  top_logprobs: intNear(0, 20),
  reasoning_effort: mostly(fc.constantFrom('minimal', 'low', 'medium', 'high', null), fc.constantFrom('max', 'LOW', '', 1)),
  service_tier: mostly(fc.oneof(fc.constantFrom('auto', 'default', 'flex'), fc.constant(null)), fc.constantFrom(1, false)),
  store: nullableBool,
  tools: fc.constantFrom([], [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]),
  tool_choice: fc.constantFrom('auto', 'none', 'required'),
  response_format: fc.constantFrom({ type: 'text' }, { type: 'json_object' }),
  temprature: fc.constant(1),
};
const RARE = new Set(['tools', 'tool_choice', 'response_format', 'temprature', 'logit_bias']);
const present = (k: string) => (k === 'model' || k === 'messages' ? 40 : RARE.has(k) ? 1 : 4);
const fieldsMaybe = Object.fromEntries(Object.entries(fields).map(([k, arb]) => [k, maybe(arb as fc.Arbitrary<unknown>, present(k), 40 - present(k))]));

/**
 * A body: a random subset of the fields (model and messages nearly always), in a random order; now and
 * then a key with the value undefined, or an own `__proto__` key (as JSON.parse makes it).
 */
const body = fc
  .tuple(fc.record(fieldsMaybe), fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), fc.nat(40))
  .map(([rec, order, odd]) => {
    const entries = Object.entries(withoutAbsent(rec)).map(([k, v], i) => ({ k, v, at: order[i] }));
    entries.sort((x, y) => x.at - y.at);
    const out: Record<string, unknown> = {};
    for (const { k, v } of entries) out[k] = v;
    if (odd === 0 && entries.length > 0) out[entries[entries.length - 1].k] = undefined;
    if (odd === 1) Object.defineProperty(out, '__proto__', { value: { temperature: 1 }, enumerable: true, writable: true, configurable: true });
    return out;
  });

describe('Function: fastChatRequest', () => {
  it('answers only when zod accepts, with a deep-equal result in the same key order; validateChatRequest returns or throws exactly as zod alone', () => {
    let answered = 0;
    let zodOnly = 0;
    fc.assert(
      fc.property(fc.boolean(), body, (viaJson, raw) => {
        // Bodies as the gateway gets them (JSON.parse) and as objects (undefined values, NaN, -0 survive).
        const b = viaJson ? JSON.parse(JSON.stringify(raw)) : raw;
        if (expectSameAsZod(b)) answered++;
        else if (chatCompletionRequestSchema.safeParse(b).success) zodOnly++;
        const withFast = outcome(validateChatRequest, b);
        const withZod = outcome(validateChatRequestWithZod, b);
        expect(withFast).toStrictEqual(withZod);
        if ('ok' in withFast && 'ok' in withZod) expect(JSON.stringify(withFast.ok)).toBe(JSON.stringify(withZod.ok));
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Both sides exercised: a generator that only made invalid bodies would prove nothing.
    expect(answered).toBeGreaterThan(RUNS * 0.15);
    expect(zodOnly).toBeGreaterThan(RUNS * 0.05);
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
});
