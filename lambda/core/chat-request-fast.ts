/**
 * A hand-written fast path for the chat request validator: the shapes real clients send most (scalar
 * parameters, text messages) checked in a few microseconds instead of zod's 130–250 µs on a cold gateway.
 * It returns a request only when zod would certainly accept the body and produce a deep-equal value
 * (same keys, same key order, so the forwarded JSON is byte-identical); for anything else it returns
 * undefined and the caller runs zod, which stays the reference and owns every error message.
 *
 * What zod does that this mirrors (zod 4, checked against its source and by the differential test in
 * test/unit/core/chat-request-fast.test.ts): objects come out as new objects with their keys in the
 * schema's order, whatever the input's; every key of a schema is read, enumerable or not; numbers must
 * be finite; `.int()` means a safe integer; arrays are copied. What it leaves to zod: a key it does not
 * know at any level (the strict top level rejects it, nested objects strip it), a key present with the
 * value undefined (zod keeps it as an own key), `__proto__` anywhere, objects whose prototype is not
 * `Object.prototype` (JSON.parse makes no others), and whole fields: tools, tool_choice,
 * response_format, image parts, assistant tool calls and thinking blocks.
 */
import { isValidModelName } from './model-name';
import type { AssistantMessage, CacheControl, ChatCompletionRequest, ChatMessage, TextPart } from './openai-schema';

const FAIL: unique symbol = Symbol('not on the fast path');
type Fail = typeof FAIL;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * An object's keys as zod sees them: it reads every key of its shape, enumerable or not (for-in would
 * miss a non-enumerable one; JSON.parse makes none, but other callers could).
 */
const keysOf = Object.getOwnPropertyNames;

const str = (v: unknown): string | Fail => (typeof v === 'string' ? v : FAIL);
/** `z.number()`: finite. */
const finite = (v: unknown): number | Fail => (typeof v === 'number' && Number.isFinite(v) ? v : FAIL);
/** `z.number().min(min).max(max).nullable()`: NaN and the infinities fail the comparisons. */
const num = (v: unknown, min: number, max: number): number | null | Fail => (v === null || (typeof v === 'number' && v >= min && v <= max) ? v : FAIL);
/** `z.number().int()` with bounds, nullable: zod 4's int is a safe integer. */
const int = (v: unknown, min: number, max: number): number | null | Fail => (v === null || (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max) ? (v as number | null) : FAIL);
const bool = (v: unknown): boolean | null | Fail => (v === null || typeof v === 'boolean' ? v : FAIL);

function arrayOf<T>(v: unknown[], check: (x: unknown) => T | Fail): T[] | Fail {
  const out: T[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = check(v[i]);
    if (x === FAIL) return FAIL;
    out.push(x);
  }
  return out;
}

/** `z.record(z.string(), value).nullable()`: a new object, same keys in the same order. */
function recordOf<T>(v: unknown, check: (x: unknown) => T | Fail): Record<string, T> | null | Fail {
  if (v === null) return null;
  if (!isPlainObject(v)) return FAIL;
  const out: Record<string, T> = {};
  // zod's record takes the own enumerable keys.
  for (const key of Object.keys(v)) {
    if (key === '__proto__') return FAIL;
    const x = check(v[key]);
    if (x === FAIL) return FAIL;
    out[key] = x;
  }
  return out;
}

function cacheControl(v: unknown): CacheControl | Fail {
  if (!isPlainObject(v)) return FAIL;
  let type: unknown, ttl: unknown;
  for (const key of keysOf(v)) {
    if (key === 'type') type = v[key];
    else if (key === 'ttl') ttl = v[key];
    else return FAIL;
  }
  if (type !== 'ephemeral') return FAIL;
  if (ttl === undefined) return 'ttl' in v ? FAIL : { type };
  return ttl === '5m' || ttl === '1h' ? { type, ttl } : FAIL;
}

function textPart(v: unknown): TextPart | Fail {
  if (!isPlainObject(v)) return FAIL;
  let type: unknown, text: unknown, cache: unknown;
  for (const key of keysOf(v)) {
    if (key === 'type') type = v[key];
    else if (key === 'text') text = v[key];
    else if (key === 'cache_control') cache = v[key];
    else return FAIL;
  }
  if (type !== 'text' || typeof text !== 'string') return FAIL;
  if (cache === undefined) return 'cache_control' in v ? FAIL : { type, text };
  const cache_control = cacheControl(cache);
  return cache_control === FAIL ? FAIL : { type, text, cache_control };
}

/** A string, or an array of text parts (at least `min`). */
function textContent(v: unknown, min: number): string | TextPart[] | Fail {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v) || v.length < min) return FAIL;
  return arrayOf(v, textPart);
}

function message(v: unknown): ChatMessage | Fail {
  if (!isPlainObject(v)) return FAIL;
  let role: unknown, content: unknown, name: unknown, refusal: unknown, toolCallId: unknown;
  for (const key of keysOf(v)) {
    const x = v[key];
    if (x === undefined) return FAIL;
    switch (key) {
      case 'role':
        role = x;
        break;
      case 'content':
        content = x;
        break;
      case 'name':
        name = x;
        break;
      case 'refusal':
        refusal = x;
        break;
      case 'tool_call_id':
        toolCallId = x;
        break;
      default:
        return FAIL;
    }
  }
  if (name !== undefined && typeof name !== 'string') return FAIL;
  switch (role) {
    case 'system':
    case 'developer':
    case 'user': {
      if (refusal !== undefined || toolCallId !== undefined) return FAIL;
      // A user message's array is image parts too and must not be empty; a system message's may be.
      const c = textContent(content, role === 'user' ? 1 : 0);
      if (c === FAIL) return FAIL;
      return name === undefined ? { role, content: c } : { role, content: c, name };
    }
    case 'assistant': {
      if (toolCallId !== undefined) return FAIL;
      if (refusal !== undefined && refusal !== null && typeof refusal !== 'string') return FAIL;
      const c = content === undefined || content === null ? content : textContent(content, 0);
      if (c === FAIL) return FAIL;
      const out: AssistantMessage = { role };
      if (c !== undefined) out.content = c;
      if (name !== undefined) out.name = name;
      if (refusal !== undefined) out.refusal = refusal as string | null;
      return out;
    }
    case 'tool': {
      if (name !== undefined || refusal !== undefined || typeof toolCallId !== 'string' || toolCallId === '') return FAIL;
      const c = textContent(content, 0);
      return c === FAIL ? FAIL : { role, content: c, tool_call_id: toolCallId };
    }
    default:
      return FAIL;
  }
}

const messages = (v: unknown): ChatMessage[] | Fail => (Array.isArray(v) && v.length > 0 ? arrayOf(v, message) : FAIL);

function streamOptions(v: unknown): { include_usage?: boolean } | null | Fail {
  if (v === null) return null;
  if (!isPlainObject(v)) return FAIL;
  let includeUsage: unknown;
  for (const key of keysOf(v)) {
    if (key !== 'include_usage') return FAIL;
    includeUsage = v[key];
  }
  if (includeUsage === undefined) return 'include_usage' in v ? FAIL : {};
  return typeof includeUsage === 'boolean' ? { include_usage: includeUsage } : FAIL;
}

const stop = (v: unknown): string | string[] | null | Fail => (v === null || typeof v === 'string' ? v : Array.isArray(v) && v.length <= 4 ? arrayOf(v, str) : FAIL);

/** The accepted top-level fields in the schema's key order (the order of the output), each with its check. */
const FIELDS: ReadonlyArray<readonly [string, (v: unknown) => unknown]> = [
  ['model', (v) => (typeof v === 'string' && isValidModelName(v) ? v : FAIL)],
  ['messages', messages],
  ['stream', bool],
  ['stream_options', streamOptions],
  ['temperature', (v) => num(v, 0, 2)],
  ['top_p', (v) => num(v, 0, 1)],
  ['max_tokens', (v) => int(v, 1, Number.MAX_SAFE_INTEGER)],
  ['max_completion_tokens', (v) => int(v, 1, Number.MAX_SAFE_INTEGER)],
  ['stop', stop],
  ['parallel_tool_calls', (v) => (typeof v === 'boolean' ? v : FAIL)],
  ['seed', (v) => int(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)],
  ['user', str],
  ['metadata', (v) => recordOf(v, str)],
  ['n', (v) => int(v, 1, 128)],
  ['presence_penalty', (v) => num(v, -2, 2)],
  ['frequency_penalty', (v) => num(v, -2, 2)],
  ['logit_bias', (v) => recordOf(v, finite)],
  ['logprobs', bool],
  ['top_logprobs', (v) => int(v, 0, 20)],
  ['reasoning_effort', (v) => (v === null || v === 'minimal' || v === 'low' || v === 'medium' || v === 'high' ? v : FAIL)],
  ['service_tier', (v) => (v === null || typeof v === 'string' ? v : FAIL)],
  ['store', bool],
];
/** Field name → its position in FIELDS (no prototype: `constructor` is not a field). */
const POSITION: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(FIELDS.map(([name], i) => [name, i])));

/**
 * Exactly what zod's chatCompletionRequestSchema would return for `body`, or undefined: run zod. Each
 * field's check gives the value to put in the output (a copy, for objects and arrays) or FAIL, never
 * undefined; the output is assembled in the schema's key order (a test holds the two together).
 */
export function fastChatRequest(body: unknown): ChatCompletionRequest | undefined {
  if (!isPlainObject(body)) return undefined;
  const values: unknown[] = new Array(FIELDS.length);
  for (const key of keysOf(body)) {
    const i = POSITION[key];
    if (i === undefined) return undefined;
    const x = FIELDS[i][1](body[key]);
    if (x === FAIL) return undefined;
    values[i] = x;
  }
  // model and messages are required (positions 0 and 1).
  if (values[0] === undefined || values[1] === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < FIELDS.length; i++) if (values[i] !== undefined) out[FIELDS[i][0]] = values[i];
  return out as ChatCompletionRequest;
}
