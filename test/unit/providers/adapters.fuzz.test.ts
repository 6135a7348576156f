/**
 * Property-based fuzzing (fast-check) of each provider kind at the layers the adapter owns, in process:
 *
 * 1. Request mapping. Generated chat requests (text and image parts, tool calls and results, thinking
 *    blocks, tools, tool_choice, temperature, stop, n, max tokens, response_format, reasoning_effort, ...)
 *    go through the request validator, then through each kind's mapping (openai-compatible
 *    `toUpstreamBody`, Anthropic `toAnthropicRequest`, Bedrock `toConverseInput`). Every input ends in a
 *    400 GatewayError (a clear refusal) or an upstream body that is JSON-serialisable, holds no undefined
 *    or non-finite number, and carries the output cap exactly as given; never a TypeError.
 * 2. Stream parsing. Each adapter's `chatStream` reads generated upstream bytes (SSE for openai-compatible
 *    and Anthropic through an injected fetch; AWS event-stream frames for Bedrock through the real
 *    BedrockRuntimeClient with an in-process request handler): valid streams split at random byte offsets
 *    (including inside UTF-8 sequences), truncated, with garbage or a huge line inserted, invalid JSON,
 *    events out of order, in-band errors and error statuses quoting a planted provider key. Every run ends
 *    within a deadline with valid chunks (and, for an intact stream, the exact text and a usage chunk) or a
 *    GatewayError whose client-facing message holds no fragment of the planted key; never a TypeError
 *    or an unhandled rejection.
 *
 * Bounded: TOLLGATE_FUZZ_RUNS runs per property (default 60). Replay a failure with the seed fast-check
 * prints: TOLLGATE_FUZZ_SEED=<seed> npx jest test/unit/providers/adapters.fuzz.test.ts
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { validateChatRequest } from '../../../lambda/app/validate-request';
import { GatewayError } from '../../../lambda/core/errors';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { createAnthropicAdapter } from '../../../lambda/providers/anthropic/adapter';
import { toAnthropicRequest } from '../../../lambda/providers/anthropic/chat-complete';
import { createBedrockAdapter } from '../../../lambda/providers/bedrock/adapter';
import { toConverseInput } from '../../../lambda/providers/bedrock/converse';
import { toUpstreamBody } from '../../../lambda/providers/openai-compatible/chat-complete';
import { createOpenAICompatibleAdapter } from '../../../lambda/providers/openai-compatible/adapter';
import type { ProviderAdapter } from '../../../lambda/providers/types';

const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 60);
const SEED = process.env.TOLLGATE_FUZZ_SEED ? Number(process.env.TOLLGATE_FUZZ_SEED) : undefined;
const PARAMS = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) };
const TIMEOUT_MS = Math.max(30_000, RUNS * 300);
/** One stream run must end well within this (everything is in process: no network, no timers). */
const DEADLINE_MS = 5_000;

// Key-shaped at run time only (joined here), so no key-shaped literal sits in the repository for secret
// scanners to flag; the redaction under test sees exactly these strings.
const PROVIDER_KEY = ['sk', 'proj', 'FUZZplanted9Q3xV7mK2pL8nR4tW6yB1cD5'].join('-');
const AWS_KEY_ID = ['AKIA', 'FUZZPLANTED12345'].join('');
const AWS_SECRET = ['fuzzSecret', 'AccessKey', '0'.repeat(21)].join('');
/** Ways an upstream quotes the key it received: whole, as a header, cut, masked. */
const KEY_QUOTES = [
  `Incorrect API key provided: ${PROVIDER_KEY}`,
  `Authorization: Bearer ${PROVIDER_KEY}`,
  `key ${PROVIDER_KEY.slice(0, 14)}... is invalid`,
  `x-api-key ${PROVIDER_KEY.slice(0, 11)}***${PROVIDER_KEY.slice(-6)} rejected`,
  `Credential=${AWS_KEY_ID}/20260101/us-east-1/bedrock/aws4_request, Signature=deadbeefcafe0123456789`,
];

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

// ---------------------------------------------------------------- request mapping

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constant(''));
const cache = fc.option(fc.record({ type: fc.constant('ephemeral' as const), ttl: fc.constantFrom('5m' as const, '1h' as const) }), { nil: undefined });
const textPart = fc.record({ type: fc.constant('text' as const), text, cache_control: cache }, { requiredKeys: ['type', 'text'] });
const imageUrl = fc.oneof(
  fc.constantFrom('image/png', 'image/jpeg', 'image/jpg', 'image/webp', 'image/gif', 'image/bmp', 'text/plain').map((t) => `data:${t};base64,iVBORw0KGgo=`),
  fc.string({ maxLength: 8 }).map((s) => `data:image/png;base64,${s}`),
  fc.constantFrom('https://example.com/a.png', 'http://x', 'ftp://x/y.png', 'data:,', 'not a url', 'data:image/png,raw'),
);
const imagePart = fc.record(
  { type: fc.constant('image_url' as const), image_url: fc.record({ url: imageUrl, detail: fc.constantFrom('auto' as const, 'low' as const, 'high' as const) }, { requiredKeys: ['url'] }), cache_control: cache },
  { requiredKeys: ['type', 'image_url'] },
);
const toolArguments = fc.oneof(
  fc.json({ maxDepth: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }).map((o) => JSON.stringify(o)),
  fc.constantFrom('', '  ', '{', 'null', '[1]', '"s"', `${'{"a":'.repeat(80)}1${'}'.repeat(80)}`),
);
const toolCall = fc.record({ id: fc.string({ maxLength: 6 }), type: fc.constant('function' as const), function: fc.record({ name: fc.string({ maxLength: 6 }), arguments: toolArguments }) });
const thinkingBlock = fc.oneof(
  fc.record({ type: fc.constant('thinking' as const), thinking: text, signature: fc.string({ maxLength: 8 }) }),
  fc.record({ type: fc.constant('redacted_thinking' as const), data: fc.string({ maxLength: 8 }) }),
);
const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system' as const, 'developer' as const), content: fc.oneof(text, fc.array(textPart, { maxLength: 3 })) }),
  fc.record({ role: fc.constant('user' as const), content: fc.oneof(text, fc.array(fc.oneof(textPart, imagePart), { minLength: 1, maxLength: 3 })), name: fc.string({ maxLength: 4 }) }, { requiredKeys: ['role', 'content'] }),
  fc.record(
    {
      role: fc.constant('assistant' as const),
      content: fc.oneof(text, fc.array(textPart, { maxLength: 2 }), fc.constant(null)),
      tool_calls: fc.array(toolCall, { maxLength: 2 }),
      thinking_blocks: fc.array(thinkingBlock, { maxLength: 2 }),
      refusal: fc.option(text),
    },
    { requiredKeys: ['role'] },
  ),
  fc.record({ role: fc.constant('tool' as const), tool_call_id: fc.string({ minLength: 1, maxLength: 6 }), content: fc.oneof(text, fc.array(textPart, { maxLength: 2 })) }),
);
const tool = fc.record(
  {
    type: fc.constant('function' as const),
    function: fc.record(
      { name: fc.string({ minLength: 1, maxLength: 6 }), description: text, parameters: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), strict: fc.option(fc.boolean()) },
      { requiredKeys: ['name'] },
    ),
    cache_control: cache,
  },
  { requiredKeys: ['type', 'function'] },
);
/** The fields only OpenAI-compatible hosts honour: rare, so most requests reach every kind's mapping. */
const openaiOnly = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.record({
      response_format: fc.oneof(
        fc.constantFrom({ type: 'text' as const }, { type: 'json_object' as const }),
        fc.record({ type: fc.constant('json_schema' as const), json_schema: fc.record({ name: fc.string({ minLength: 1, maxLength: 4 }), schema: fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }) }) }),
      ),
      seed: fc.option(fc.integer()),
      n: fc.option(fc.integer({ min: 1, max: 4 })),
      presence_penalty: fc.option(fc.double({ min: -2, max: 2, noNaN: true })),
      frequency_penalty: fc.option(fc.double({ min: -2, max: 2, noNaN: true })),
      logit_bias: fc.option(fc.dictionary(fc.integer({ min: 0, max: 99 }).map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 2 })),
      logprobs: fc.option(fc.boolean()),
      top_logprobs: fc.option(fc.integer({ min: 0, max: 20 })),
      service_tier: fc.option(fc.constantFrom('auto', 'default', 'flex')),
      store: fc.option(fc.boolean()),
    }, { requiredKeys: [] }),
  },
);

/** Schema-valid chat requests (a tool_choice only beside tools, as the validator wants). */
const validRequest = fc
  .tuple(
    fc.record(
      {
        model: fc.constantFrom('gpt-4o', 'claude-sonnet-4', 'anthropic.claude-3-haiku-20240307-v1:0', 'us.anthropic.claude-3-7-sonnet', 'meta.llama3-70b'),
        messages: fc.array(message, { minLength: 1, maxLength: 5 }),
        stream: fc.option(fc.boolean()),
        stream_options: fc.option(fc.record({ include_usage: fc.boolean() })),
        temperature: fc.option(fc.oneof({ weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }, { weight: 1, arbitrary: fc.double({ min: 1, max: 2, noNaN: true }) })),
        top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
        max_tokens: fc.option(fc.integer({ min: 1, max: 200_000 })),
        max_completion_tokens: fc.option(fc.integer({ min: 1, max: 200_000 })),
        stop: fc.option(fc.oneof(text, fc.array(text, { maxLength: 4 }))),
        tools: fc.array(tool, { maxLength: 3 }),
        tool_choice: fc.oneof(fc.constantFrom('none' as const, 'auto' as const, 'required' as const), fc.record({ type: fc.constant('function' as const), function: fc.record({ name: fc.string({ maxLength: 6 }) }) })),
        parallel_tool_calls: fc.boolean(),
        user: fc.string({ maxLength: 6 }),
        metadata: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 })),
        reasoning_effort: fc.option(fc.constantFrom('minimal' as const, 'low' as const, 'medium' as const, 'high' as const)),
      },
      { requiredKeys: ['model', 'messages'] },
    ),
    openaiOnly,
  )
  .map(([base, extra]) => {
    const req: Record<string, unknown> = { ...base, ...extra };
    if (!base.tools || base.tools.length === 0) delete req.tool_choice;
    return req;
  });

/** Mostly valid requests; some with one field replaced by any JSON value, some not a request at all (the validator's part). */
export const requestArb = fc.oneof(
  { weight: 8, arbitrary: validRequest },
  {
    weight: 1,
    arbitrary: fc
      .tuple(validRequest, fc.constantFrom('model', 'messages', 'temperature', 'max_tokens', 'stop', 'tools', 'tool_choice', 'n', 'response_format', 'reasoning_effort', 'extra'), fc.jsonValue({ maxDepth: 2 }))
      .map(([req, field, value]) => ({ ...req, [field]: value })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** Where `value` holds undefined, NaN or ±Infinity (JSON would silently drop or null them), or undefined. */
function badValueAt(value: unknown, path = '$'): string | undefined {
  if (value === undefined) return path;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const bad = badValueAt(v, `${path}.${k}`);
    if (bad) return bad;
  }
  return undefined;
}

/** A clear refusal passes; anything else thrown (TypeError, RangeError, a 5xx) fails the property. */
function refusedOr<T>(map: () => T): T | undefined {
  try {
    return map();
  } catch (err) {
    if (err instanceof GatewayError && err.status === 400 && err.type === 'invalid_request_error' && err.message !== '') return undefined;
    throw err;
  }
}

function checkBody(body: unknown): void {
  const bad = badValueAt(body);
  if (bad) throw new Error(`undefined or non-finite value at ${bad}`);
  expect(typeof JSON.stringify(body)).toBe('string');
}

describe('Request mapping (validator → each kind)', () => {
  it(
    'ends in a 400 or a well-formed upstream body with the output cap as given',
    () => {
      fc.assert(
        fc.property(requestArb, fc.integer({ min: 1, max: 64_000 }), fc.boolean(), fc.option(fc.integer({ min: 1024, max: 64_000 }), { nil: undefined }), (raw, cap, stream, budget) => {
          // As the gateway gets it: a parsed JSON body (no explicit undefined, no -0).
          const req = refusedOr(() => validateChatRequest(JSON.parse(JSON.stringify(raw))));
          if (!req) return;
          const openai = toUpstreamBody(req, stream, { field: 'max_tokens', tokens: cap });
          checkBody(openai);
          expect(openai.max_tokens).toBe(cap);
          expect(openai.max_completion_tokens).toBeUndefined();
          expect(openai.metadata).toBeUndefined();

          const anthropic = refusedOr(() => toAnthropicRequest('anthropic', req, { stream, maxOutputTokens: cap }));
          if (anthropic) {
            checkBody(anthropic);
            expect(anthropic.max_tokens).toBe(cap);
            if (anthropic.thinking) expect(anthropic.thinking.budget_tokens).toBeLessThan(cap);
            if (anthropic.temperature !== undefined) expect(anthropic.temperature).toBeLessThanOrEqual(1);
          }

          // /v1/messages extended thinking reaches Bedrock as ProviderCall.thinking, its budget checked below the cap.
          const thinking = budget !== undefined && budget < cap ? { budgetTokens: budget } : undefined;
          const converse = refusedOr(() => toConverseInput('bedrock', req, cap, thinking));
          if (converse) {
            checkBody(converse);
            expect(converse.inferenceConfig?.maxTokens).toBe(cap);
            const fields = converse.additionalModelRequestFields as { thinking?: { budget_tokens: number } } | undefined;
            if (fields?.thinking) expect(fields.thinking.budget_tokens).toBeLessThan(cap);
            if (converse.inferenceConfig?.temperature !== undefined) expect(converse.inferenceConfig.temperature).toBeLessThanOrEqual(1);
          }
        }),
        PARAMS,
      );
    },
    TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------- stream parsing

interface StreamPlan {
  /** Text pieces the model produces; an intact stream must yield exactly their concatenation. */
  pieces: string[];
  usage: { input: number; output: number };
  mutation: Mutation;
  /** Byte offsets (modulo the length) where the stream is cut into reads. */
  cuts: number[];
  /** A position (modulo) for a mutation that needs one. */
  at: number;
  garbage: Uint8Array;
  quote: string;
  /** A tool call the model makes after its text (arguments in pieces). */
  tool: { id: string; name: string; args: string[] } | null;
  /** For `weirdField`: what one field of one event is replaced with (a wrong type, null, a huge number, ...). */
  weird: unknown;
}

/** `stall`: the upstream sends part of the stream and then nothing, without closing: the caller's abort must end it. */
type Mutation = 'intact' | 'weirdField' | 'truncate' | 'stall' | 'garbage' | 'hugeLine' | 'badJson' | 'shuffle' | 'drop' | 'inBandError' | 'errorStatus';

const plan: fc.Arbitrary<StreamPlan> = fc.record({
  pieces: fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), { maxLength: 6 }),
  usage: fc.record({ input: fc.nat(100_000), output: fc.nat(10_000) }),
  mutation: fc.constantFrom<Mutation>('intact', 'intact', 'weirdField', 'weirdField', 'truncate', 'stall', 'garbage', 'hugeLine', 'badJson', 'shuffle', 'drop', 'inBandError', 'errorStatus'),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  at: fc.nat(),
  garbage: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  quote: fc.constantFrom(...KEY_QUOTES),
  tool: fc.option(fc.record({ id: fc.string({ maxLength: 6 }), name: fc.string({ maxLength: 6 }), args: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }) })),
  weird: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, -1, 1e308, 2.5, '', '7', [], {}, true)),
});

/** One upstream event: its bytes on the wire for this kind. */
type Frame = Uint8Array;

/** One upstream event before encoding: its name (SSE `event:` or `:event-type`) and JSON body. */
interface WireEvent {
  name?: string;
  body: Record<string, unknown>;
}

interface Kind {
  name: string;
  /**
   * The host's chunks are relayed as they came (openai-compatible): only `choices`, an array of objects, is
   * checked, and the surfaces read each delta defensively. Other kinds build every chunk themselves.
   */
  relaysChunks?: boolean;
  /** The events of a valid stream for this plan (ending with the kind's terminator). */
  events(p: StreamPlan): WireEvent[];
  encode(event: WireEvent): Frame;
  /** An event that fails to parse as JSON. */
  badJson(): Frame;
  /** The kind's in-band error event, quoting the planted key. */
  inBandError(quote: string): Frame;
  /** An adapter in front of this upstream. */
  adapter(upstream: Upstream): ProviderAdapter;
  /** A non-2xx body quoting the planted key. */
  errorBody(quote: string): string;
}

/** What the upstream answers: `status`; for a 200, the stream as `reads` (left open when `stall`); else `errorBody`. */
interface Upstream {
  status: number;
  reads: Uint8Array[];
  stall: boolean;
  errorBody: string;
}

const enc = new TextEncoder();
const sse = (data: string, event?: string): Frame => enc.encode(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`);

/** A fetch that answers like undici: an aborted signal errors the body being read. */
function fetchAnswering({ status, reads, stall, errorBody }: Upstream) {
  return async (_url: string, init: RequestInit): Promise<Response> => {
    if (status !== 200) return new Response(errorBody, { status, headers: { 'content-type': 'application/json' } });
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        init.signal?.addEventListener('abort', () => controller.error(init.signal?.reason), { once: true });
      },
      pull(controller) {
        if (i < reads.length) controller.enqueue(reads[i++]);
        else if (!stall) controller.close();
        else return new Promise<void>(() => undefined);
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
}

const openaiKind: Kind = {
  name: 'openai-compatible',
  relaysChunks: true,
  events: (p) => {
    const meta = { id: 'chatcmpl-f', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ body: { ...meta, choices: [{ index: 0, delta: d, finish_reason: finish }] } });
    const tool = p.tool;
    return [
      delta({ role: 'assistant', content: '' }),
      ...p.pieces.map((t) => delta({ content: t })),
      ...(tool ? [delta({ tool_calls: [{ index: 0, id: tool.id, type: 'function', function: { name: tool.name, arguments: '' } }] }), ...tool.args.map((a) => delta({ tool_calls: [{ index: 0, function: { arguments: a } }] }))] : []),
      delta({}, tool ? 'tool_calls' : 'stop'),
      { body: { ...meta, choices: [], usage: { prompt_tokens: p.usage.input, completion_tokens: p.usage.output, total_tokens: p.usage.input + p.usage.output } } },
      { name: 'done', body: {} },
    ];
  },
  encode: (e) => sse(e.name === 'done' ? '[DONE]' : JSON.stringify(e.body)),
  badJson: () => sse('{"id":"x","choices":[{"delta":'),
  inBandError: (quote) => sse(JSON.stringify({ error: { message: quote, type: 'invalid_request_error' } })),
  errorBody: (quote) => JSON.stringify({ error: { message: quote, type: 'invalid_request_error', code: 'invalid_api_key' } }),
  adapter: (upstream) => createOpenAICompatibleAdapter('openai', { baseUrl: 'http://upstream.invalid/v1' }, { fetch: fetchAnswering(upstream) }),
};

const anthropicKind: Kind = {
  name: 'anthropic',
  events: (p) => {
    const ev = (type: string, body: Record<string, unknown>): WireEvent => ({ name: type, body: { type, ...body } });
    const tool = p.tool;
    return [
      ev('message_start', { message: { id: 'msg_f', type: 'message', role: 'assistant', model: 'claude', content: [], usage: { input_tokens: p.usage.input, output_tokens: 1 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
      ev('ping', {}),
      ...p.pieces.map((t) => ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: t } })),
      ev('content_block_stop', { index: 1 }),
      ...(tool
        ? [
            ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } }),
            ...tool.args.map((a) => ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: a } })),
            ev('content_block_stop', { index: 2 }),
          ]
        : []),
      ev('message_delta', { delta: { stop_reason: tool ? 'tool_use' : 'end_turn' }, usage: { output_tokens: p.usage.output } }),
      ev('message_stop', {}),
    ];
  },
  encode: (e) => sse(JSON.stringify(e.body), e.name),
  badJson: () => sse('{"type":"content_block_delta","index":0,"delta":{', 'content_block_delta'),
  inBandError: (quote) => sse(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: quote } }), 'error'),
  errorBody: (quote) => JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: quote } }),
  adapter: (upstream) =>
    createAnthropicAdapter('anthropic', { baseUrl: 'http://upstream.invalid', version: '2023-06-01' }, { fetch: fetchAnswering(upstream) }),
};

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const awsFrame = (messageType: 'event' | 'exception', type: string, json: string): Frame =>
  codec.encode({
    headers: {
      [messageType === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: messageType },
    },
    body: fromUtf8(json),
  });

/** The real BedrockRuntimeClient (signing, event-stream decoding, exception mapping) over an in-process handler. */
function bedrockClient({ status, reads, stall, errorBody }: Upstream): BedrockRuntimeClient {
  const handler: RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> = {
    handle: async (_request, options) => {
      const headers: Record<string, string> =
        status === 200 ? { 'content-type': 'application/vnd.amazon.eventstream' } : { 'content-type': 'application/json', 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/coral/' };
      const body = new Readable({ read: () => undefined });
      for (const r of status === 200 ? reads : [enc.encode(errorBody)]) body.push(Buffer.from(r));
      if (!stall || status !== 200) body.push(null);
      // As NodeHttpHandler does: an abort destroys the response being read.
      (options?.abortSignal as AbortSignal | undefined)?.addEventListener('abort', () => body.destroy(new Error('aborted')), { once: true });
      return { response: { statusCode: status, headers, body } };
    },
  };
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET },
    maxAttempts: 1,
    requestHandler: handler,
  });
}

const bedrockKind: Kind = {
  name: 'bedrock',
  events: (p) => {
    const ev = (name: string, body: Record<string, unknown>): WireEvent => ({ name, body });
    const tool = p.tool;
    return [
      ev('messageStart', { role: 'assistant' }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hmm' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'c2ln' } } }),
      ev('contentBlockStop', { contentBlockIndex: 0 }),
      ...p.pieces.map((t) => ev('contentBlockDelta', { contentBlockIndex: 1, delta: { text: t } })),
      ev('contentBlockStop', { contentBlockIndex: 1 }),
      ...(tool
        ? [
            ev('contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: tool.id, name: tool.name } } }),
            ...tool.args.map((a) => ev('contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: a } } })),
            ev('contentBlockStop', { contentBlockIndex: 2 }),
          ]
        : []),
      ev('messageStop', { stopReason: tool ? 'tool_use' : 'end_turn' }),
      ev('metadata', { usage: { inputTokens: p.usage.input, outputTokens: p.usage.output, totalTokens: p.usage.input + p.usage.output }, metrics: { latencyMs: 1 } }),
    ];
  },
  encode: (e) => awsFrame('event', e.name ?? '', JSON.stringify(e.body)),
  badJson: () => awsFrame('event', 'contentBlockDelta', '{"contentBlockIndex":0,"delta":{'),
  inBandError: (quote) => awsFrame('exception', 'throttlingException', JSON.stringify({ message: quote })),
  errorBody: (quote) => JSON.stringify({ message: quote }),
  adapter: (upstream) => createBedrockAdapter('bedrock', { region: 'us-east-1' }, { client: bedrockClient(upstream) }),
};

/** Sets one field of `body` (picked by `pick` among all its fields, nested ones included) to `value`. */
function replaceOneField(body: Record<string, unknown>, pick: number, value: unknown): void {
  const slots: Array<[Record<string, unknown>, string]> = [];
  const walk = (o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o)) {
      slots.push([o, k]);
      if (typeof v === 'object' && v !== null) walk(v as Record<string, unknown>);
    }
  };
  walk(body);
  if (slots.length === 0) return;
  const [owner, key] = slots[Math.floor(pick / 7) % slots.length];
  owner[key] = value;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The upstream's bytes for this plan, and the reads they arrive in. */
function upstreamReads(kind: Kind, p: StreamPlan): Uint8Array[] {
  const events = kind.events(p);
  if (p.mutation === 'weirdField') replaceOneField(events[p.at % events.length].body, p.at, p.weird);
  let frames = events.map((e) => kind.encode(e));
  const pos = (n: number) => p.at % (n + 1);
  switch (p.mutation) {
    case 'badJson':
      frames.splice(pos(frames.length), 0, kind.badJson());
      break;
    case 'inBandError':
      frames.splice(pos(frames.length), 0, kind.inBandError(p.quote));
      break;
    case 'shuffle':
      frames = [...frames].sort((a, b) => ((a.length * 31 + p.at) % 7) - ((b.length * 31 + p.at) % 7));
      break;
    case 'drop':
      frames.splice(p.at % frames.length, 1);
      break;
    case 'hugeLine':
      frames.splice(pos(frames.length), 0, enc.encode(`data: ${'x'.repeat(256 * 1024)}\n\n`));
      break;
    default:
      break;
  }
  let bytes = concat(frames);
  if (p.mutation === 'truncate' || p.mutation === 'stall') bytes = bytes.slice(0, p.at % bytes.length);
  if (p.mutation === 'garbage') {
    const at = pos(bytes.length);
    bytes = concat([bytes.slice(0, at), p.garbage, bytes.slice(at)]);
  }
  const cuts = [...new Set(p.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const reads: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > from) reads.push(bytes.slice(from, cut));
    from = Math.max(from, cut);
  }
  return reads;
}

const streamRequest: ChatCompletionRequest = { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }], stream: true };

type Outcome = { chunks: ChatCompletionChunk[]; error?: unknown };

/** The adapter's whole stream; the caller aborts after `abortAfterMs` (a client that left, or the router's timeout). */
async function drain(adapter: ProviderAdapter, abortAfterMs?: number): Promise<Outcome> {
  const chunks: ChatCompletionChunk[] = [];
  const controller = new AbortController();
  const abortTimer = abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), abortAfterMs);
  const run = (async (): Promise<Outcome> => {
    try {
      for await (const chunk of adapter.chatStream({ request: streamRequest, signal: controller.signal, apiKey: PROVIDER_KEY, maxOutputTokens: 256 })) chunks.push(chunk);
      return { chunks };
    } catch (error) {
      return { chunks, error };
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`stream did not end within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
  });
  try {
    return await Promise.race([run, deadline]);
  } finally {
    clearTimeout(timer);
    clearTimeout(abortTimer);
  }
}

const FINISH_REASONS = new Set(['stop', 'length', 'tool_calls', 'content_filter', null]);
const isCount = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
const isOptionalString = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * A chunk the client may get: JSON-clean, `choices` an array of objects, usage counts non-negative integers
 * (they are money, for every kind); for chunks the adapter builds, the whole OpenAI chunk shape, typed.
 */
function checkChunk(chunk: ChatCompletionChunk, relayed: boolean): void {
  checkBody(chunk);
  expect(Array.isArray(chunk.choices) && chunk.choices.every((c) => typeof c === 'object' && c !== null)).toBe(true);
  if (chunk.usage != null) {
    const u = chunk.usage;
    const counts = [u.prompt_tokens, u.completion_tokens, u.total_tokens, u.prompt_tokens_details?.cached_tokens ?? 0, u.prompt_tokens_details?.cache_write_tokens ?? 0];
    if (!counts.every(isCount)) throw new Error(`usage counts must be non-negative integers: ${JSON.stringify(u)}`);
  }
  if (relayed) return;
  const fail = (why: string) => {
    throw new Error(`${why}: ${JSON.stringify(chunk)}`);
  };
  if (chunk.object !== 'chat.completion.chunk' || typeof chunk.id !== 'string' || typeof chunk.model !== 'string' || !isCount(chunk.created)) fail('chunk envelope');
  for (const choice of chunk.choices) {
    const d = choice.delta;
    if (typeof d !== 'object' || d === null) fail('delta');
    if (!FINISH_REASONS.has(choice.finish_reason)) fail('finish_reason');
    if (!(d.content === undefined || d.content === null || typeof d.content === 'string')) fail('delta.content');
    if (!isOptionalString(d.reasoning_content)) fail('delta.reasoning_content');
    for (const call of d.tool_calls ?? []) {
      if (!isCount(call.index) || !isOptionalString(call.id) || !isOptionalString(call.function?.name) || !isOptionalString(call.function?.arguments)) fail('delta.tool_calls');
    }
    for (const block of d.thinking_blocks ?? []) {
      const ok = block.type === 'thinking' ? typeof block.thinking === 'string' && typeof block.signature === 'string' : typeof block.data === 'string';
      if (!ok) fail('delta.thinking_blocks');
    }
  }
}

/** Any 6+ character piece of the planted secrets in what the client would see. */
function leaks(seen: string): string[] {
  const found: string[] = [];
  for (const secret of [PROVIDER_KEY, AWS_KEY_ID]) for (let i = 0; i + 6 <= secret.length; i++) if (seen.includes(secret.slice(i, i + 6))) found.push(secret.slice(i, i + 6));
  return found;
}

describe.each([openaiKind, anthropicKind, bedrockKind])('Stream parsing: $name', (kind) => {
  it(
    'ends with valid chunks (exact text and usage when intact) or a GatewayError that leaks no key',
    async () => {
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          const status = p.mutation === 'errorStatus' ? 401 : 200;
          const stall = p.mutation === 'stall';
          const adapter = kind.adapter({ status, reads: upstreamReads(kind, p), stall, errorBody: kind.errorBody(p.quote) });
          const { chunks, error } = await drain(adapter, stall ? 10 : undefined);
          for (const chunk of chunks) checkChunk(chunk, kind.relaysChunks === true);
          if (error !== undefined) {
            if (!(error instanceof GatewayError)) throw error;
            expect(error.status).toBeGreaterThanOrEqual(400);
            const seen = `${error.message} ${JSON.stringify(error.toBody())}`;
            expect(leaks(seen)).toEqual([]);
            const detail = (error as { detail?: unknown }).detail;
            if (typeof detail === 'string') expect(leaks(detail)).toEqual([]);
          }
          if (p.mutation === 'intact') {
            expect(error).toBeUndefined();
            const textOut = chunks.map((c) => c.choices.map((ch) => ch.delta.content ?? '').join('')).join('');
            expect(textOut).toBe(p.pieces.join(''));
            const usage = chunks.find((c) => c.usage)?.usage;
            expect(usage?.completion_tokens).toBe(p.usage.output);
          }
          // A refusal, or a stream left open until the caller gave up, can only end in an error.
          if (p.mutation === 'errorStatus' || stall) expect(error).toBeInstanceOf(GatewayError);
          // A bad or error event may land after the end of the message (then it is rightly ignored), never silently mid-answer.
          if ((p.mutation === 'inBandError' || p.mutation === 'badJson') && error === undefined) expect(chunks.some((c) => c.usage)).toBe(true);
        }),
        PARAMS,
      );
    },
    TIMEOUT_MS,
  );
});
