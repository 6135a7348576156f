/**
 * /v1/responses and /v1/embeddings end to end: the official `openai` client → the local gateway (store on
 * DynamoDB Local) → provider doubles. Responses are translated to chat for OpenAI-compatible, Anthropic and
 * Bedrock targets and passed through natively to a provider with `responsesApi`; embeddings reach the
 * OpenAI double and Bedrock (Titan, Cohere) through the real Bedrock client. Every request is metered
 * into usage records and rollups; budgets and RPM hold under concurrency on both surfaces.
 */
import OpenAI, { APIError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { doubleVector } from '../doubles/embeddings-double';
import { periods, startRig, type Rig } from './support/harness';

let rig: Rig;
let apiKey: string;
let keyId: string;
let client: OpenAI;

const weatherTool = { type: 'function' as const, name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false };

beforeAll(async () => {
  rig = await startRig({
    configOverrides: { metering: { keyCacheSeconds: 0 } },
    extend: ({ openai }) => ({
      providers: { 'openai-native': { kind: 'openai-compatible', baseUrl: `${openai}/v1`, apiKey: { env: 'E2E_OPENAI_KEY' }, responsesApi: true } },
      models: {
        'gpt-native': { maxOutputTokens: 1000, targets: [{ provider: 'openai-native', model: 'gpt-4o-mini' }] },
        embed: { targets: [{ provider: 'openai', model: 'text-embedding-3-small' }] },
        titan: { targets: [{ provider: 'bedrock', model: 'amazon.titan-embed-text-v2:0' }] },
        cohere: { targets: [{ provider: 'bedrock', model: 'cohere.embed-english-v3' }] },
      },
      pricing: {
        'openai-native/gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075 },
        'openai/text-embedding-3-small': { input: 0.02, output: 0 },
        'bedrock/amazon.titan-embed-text-v2:0': { input: 0.02, output: 0 },
        'bedrock/cohere.embed-english-v3': { input: 0.1, output: 0 },
      },
    }),
  });
  ({ apiKey, keyId } = await rig.newKey({ name: 'surfaces2', team: 'search', budgets: [{ scope: 'key', period: 'month', limitUsd: 100, mode: 'hard' }] }));
  client = rig.client(apiKey);
});

afterAll(async () => {
  await rig?.close();
});

beforeEach(() => {
  for (const d of [rig.openai, rig.anthropic, rig.bedrock]) {
    d.setScript();
    d.setDefault({ kind: 'ok' });
  }
});

async function recordsOf(key: string) {
  await rig.gateway.idle();
  return rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId: key });
}

async function recordOf(requestId: string | null) {
  const all = await recordsOf(keyId);
  const found = all.filter((r) => r.requestId === requestId);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('POST /v1/responses', () => {
  it('answers non-streamed with a function call through a chat target, metered with usage.cost', async () => {
    rig.openai.setScript({ kind: 'ok', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage: { promptTokens: 40, completionTokens: 10, cachedTokens: 20 } });
    const { data: response, response: raw } = await client.responses.create({ model: 'gpt', input: 'Weather in Paris?', instructions: 'Use tools.', tools: [weatherTool], max_output_tokens: 200 }).withResponse();
    expect(response.status).toBe('completed');
    expect(response.output).toEqual([expect.objectContaining({ type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' })]);
    // 20 uncached × 0.15 + 20 cached × 0.075 + 10 × 0.60 = 10.5 µ$ → 11 µ$.
    expect(response.usage).toMatchObject({ input_tokens: 40, input_tokens_details: { cached_tokens: 20 }, output_tokens: 10, cost: 11 / 1e6 });
    // The upstream got a chat request: instructions as a system message, the tool as a function.
    expect(rig.openai.requests.at(-1)?.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    });
    const record = await recordOf(raw.headers.get('x-tollgate-request-id'));
    expect(record).toMatchObject({ model: 'gpt', provider: 'openai', inputTokens: 40, outputTokens: 10, cacheReadTokens: 20, costMicros: 11, status: 'success', stream: false });
  });

  it('streams semantic events through Anthropic (text and a streamed tool call) and the SDK accumulates them', async () => {
    rig.anthropic.setScript({ kind: 'ok', text: 'Checking the weather.', toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Rome"}' }], usage: { promptTokens: 100, completionTokens: 20, cachedTokens: 60 } });
    const stream = client.responses.stream({ model: 'claude', input: [{ role: 'user', content: 'Weather in Rome?' }], tools: [weatherTool] });
    const events: ResponseStreamEvent[] = [];
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    expect(events[0].type).toBe('response.created');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => (e as { delta: string }).delta).join('')).toBe('{"city":"Rome"}');
    expect(final.output_text).toBe('Checking the weather.');
    expect(final.output.map((o) => o.type)).toEqual(['message', 'function_call']);
    // 40 uncached × 3 + 60 cache reads × 0.30 + 20 × 15 = 438 µ$.
    expect(final.usage).toMatchObject({ input_tokens: 100, input_tokens_details: { cached_tokens: 60 }, output_tokens: 20, cost: 438 / 1e6 });
    const records = (await recordsOf(keyId)).filter((r) => r.model === 'claude');
    expect(records.at(-1)).toMatchObject({ provider: 'anthropic', inputTokens: 100, cacheReadTokens: 60, outputTokens: 20, costMicros: 438, stream: true, status: 'success' });
  });

  it('passes through natively to a provider with responsesApi (store: false, the priced output cap), metering response.completed', async () => {
    rig.openai.setScript({ kind: 'ok', text: 'Native hello', usage: { promptTokens: 30, completionTokens: 5 } }, { kind: 'ok', text: 'Native stream', usage: { promptTokens: 31, completionTokens: 6 } });
    const plain = await client.responses.create({ model: 'gpt-native', input: 'hi', include: ['reasoning.encrypted_content'] });
    expect(plain.output_text).toBe('Native hello');
    expect(plain.usage).toMatchObject({ input_tokens: 30, output_tokens: 5, cost: 8 / 1e6 });
    expect(rig.openai.requests.at(-1)).toMatchObject({ path: '/v1/responses', body: { model: 'gpt-4o-mini', input: 'hi', store: false, max_output_tokens: 1000, include: ['reasoning.encrypted_content'], stream: false } });

    const events: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.create({ model: 'gpt-native', input: 'hi', stream: true, max_output_tokens: 50 })) events.push(e);
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
    expect(completed.type).toBe('response.completed');
    expect(completed.response.usage).toMatchObject({ input_tokens: 31, output_tokens: 6, cost: 9 / 1e6 });
    expect(rig.openai.requests.at(-1)?.body).toMatchObject({ max_output_tokens: 50, stream: true, store: false });
    const native = (await recordsOf(keyId)).filter((r) => r.model === 'gpt-native');
    expect(native.map((r) => [r.inputTokens, r.outputTokens, r.stream]).sort()).toEqual([[30, 5, false], [31, 6, true]]);
  });

  it('refuses store: true and previous_response_id with a 400 that explains why, metering nothing', async () => {
    const before = (await recordsOf(keyId)).length;
    for (const extra of [{ store: true }, { previous_response_id: 'resp_123' }]) {
      const err = await client.responses.create({ model: 'gpt', input: 'hi', ...extra }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).status).toBe(400);
      expect((err as APIError).code).toBe('stateful_responses_not_supported');
      expect((err as APIError).message).toMatch(/keeps no conversation state/);
    }
    expect(await recordsOf(keyId)).toHaveLength(before);
  });

  it('ends a stream that breaks mid-way with an error event the SDK throws, and meters what was generated', async () => {
    rig.openai.setScript({ kind: 'streamError', afterChunks: 2, chunkCount: 5 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of await client.responses.create({ model: 'gpt', input: 'hi', stream: true })) seen.push(e.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect(seen).toContain('response.output_text.delta');
    const last = (await recordsOf(keyId)).filter((r) => r.model === 'gpt').sort((a, b) => a.endedAt - b.endedAt).at(-1);
    expect(last).toMatchObject({ status: 'stream_error', estimated: true });
    expect(last!.inputTokens).toBeGreaterThan(0);
  });
});

/** A streamed /v1/responses read off the wire (openai-node throws on the `error` event, dropping its data). */
async function rawStream(body: Record<string, unknown>): Promise<Array<{ type: string; sequence_number: number } & Record<string, unknown>>> {
  const res = await fetch(`${rig.gateway.url}/responses`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)) as { type: string; sequence_number: number });
}

describe('POST /v1/responses streaming: opening events at admission, one numbering for every event', () => {
  it('sends response.created and response.in_progress before the upstream has answered, then continues the same response', async () => {
    rig.anthropic.setScript({ kind: 'ok', delayMs: 2_000, text: 'Late answer', usage: { promptTokens: 10, completionTokens: 3 } });
    const before = rig.anthropic.requests.length;
    const stream = await client.responses.create({ model: 'claude', input: 'hi', stream: true });
    const events = stream[Symbol.asyncIterator]();
    const created = (await events.next()).value as Extract<ResponseStreamEvent, { type: 'response.created' }>;
    const inProgress = (await events.next()).value as ResponseStreamEvent;
    expect([created.type, created.sequence_number, inProgress.type, inProgress.sequence_number]).toEqual(['response.created', 0, 'response.in_progress', 1]);
    expect(created.response).toMatchObject({ object: 'response', status: 'in_progress', model: 'claude' });
    // The upstream is still holding its answer back: these came at admission, not with its first chunk.
    await rig.anthropic.waitForRequests(before + 1);
    expect(rig.anthropic.requests[before].completed).toBe(false);
    const rest: ResponseStreamEvent[] = [];
    for (let r = await events.next(); !r.done; r = await events.next()) rest.push(r.value);
    expect(rest.map((e) => e.sequence_number)).toEqual(rest.map((_, i) => i + 2));
    const completed = rest.at(-1) as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
    expect(completed.type).toBe('response.completed');
    expect(completed.response.id).toBe(created.response.id);
    expect(completed.response.output_text ?? completed.response.output.map((o) => (o.type === 'message' ? o.content.map((c) => (c.type === 'output_text' ? c.text : '')).join('') : '')).join('')).toBe('Late answer');
  });

  it('numbers the relay\'s error event after the events before it, mid-stream and when no target answers at all', async () => {
    rig.anthropic.setScript({ kind: 'streamError', afterChunks: 2, text: 'one two three', errorType: 'overloaded_error', message: 'Overloaded' });
    const mid = await rawStream({ model: 'claude', input: 'hi' });
    expect(mid.map((e) => e.sequence_number)).toEqual(mid.map((_, i) => i));
    expect(mid[0].type).toBe('response.created');
    expect(mid.at(-1)).toMatchObject({ type: 'error', error: { type: 'upstream_error' } });

    // The only target fails before its first byte, after the opening events were sent: an error event, numbered 2.
    rig.anthropic.setScript({ kind: 'status', status: 503, message: 'down' });
    const none = await rawStream({ model: 'claude', input: 'hi' });
    expect(none.map((e) => [e.type, e.sequence_number])).toEqual([['response.created', 0], ['response.in_progress', 1], ['error', 2]]);

    // A field no target can honour is known before anything is committed: still a plain JSON 400.
    const refused = await client.responses.create({ model: 'claude', input: 'hi', stream: true, truncation: 'auto' }).then(() => undefined, (e: unknown) => e as APIError);
    expect(refused).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'truncation' });

    // openai-node raises the error event as an APIError.
    rig.anthropic.setScript({ kind: 'status', status: 503, message: 'down' });
    const sdk = client.responses.stream({ model: 'claude', input: 'hi' });
    await expect(sdk.finalResponse()).rejects.toBeInstanceOf(APIError);
  });

  it('renumbers a native upstream\'s events after its own opening ones, under one response id', async () => {
    rig.openai.setScript({ kind: 'ok', text: 'Native stream', usage: { promptTokens: 31, completionTokens: 6 } });
    const events: ResponseStreamEvent[] = [];
    const stream = client.responses.stream({ model: 'gpt-native', input: 'hi' });
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((e) => e.type === 'response.created')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'response.in_progress')).toHaveLength(1);
    const created = events[0] as Extract<ResponseStreamEvent, { type: 'response.created' }>;
    expect(final.id).toBe(created.response.id);
    expect(final.output_text).toBe('Native stream');
  });
});

describe('POST /v1/embeddings', () => {
  it.each([
    ['embed', 'openai', 'text-embedding-3-small', 2],
    ['titan', 'bedrock', 'amazon.titan-embed-text-v2:0', 2],
    ['cohere', 'bedrock', 'cohere.embed-english-v3', 2],
  ])('serves %s (%s) as floats and as base64 the SDK decodes, metered on input tokens', async (model, provider, upstream) => {
    const input = ['the quick brown fox', 'jumps'];
    const floats = await client.embeddings.create({ model, input, encoding_format: 'float' }).withResponse();
    expect(floats.data.data.map((d) => d.embedding)).toEqual(input.map((t) => doubleVector(t)));
    expect(floats.data.usage).toMatchObject({ prompt_tokens: 5, total_tokens: 5 });
    // openai-node asks for base64 when no format is given, and decodes it to numbers (float32).
    const decoded = await client.embeddings.create({ model, input });
    expect(decoded.data.map((d) => d.embedding)).toEqual(input.map((t) => Array.from(Float32Array.from(doubleVector(t)))));
    const record = await recordOf(floats.response.headers.get('x-tollgate-request-id'));
    expect(record).toMatchObject({ model, provider, upstreamModel: upstream, inputTokens: 5, outputTokens: 0, status: 'success', estimated: false });
    expect(floats.data.usage).toHaveProperty('cost', record.costMicros / 1e6);
  });

  it('rolls embeddings up by model with the other surfaces', async () => {
    await client.embeddings.create({ model: 'embed', input: 'one two three' });
    await rig.gateway.idle();
    const rows = await rig.gateway.runtime.gatekeeper.usage.usageBy('model', periods().day);
    const embed = rows.find((r) => r.value === 'embed');
    expect(embed?.requests).toBeGreaterThanOrEqual(1);
    expect(embed?.outputTokens).toBe(0);
    expect(embed?.inputTokens).toBeGreaterThanOrEqual(3);
  });

  it('answers bad input with a 400 naming the parameter, and a model with no embeddings provider is refused', async () => {
    const bad = await client.embeddings.create({ model: 'embed', input: [] }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, param: 'input' });
    const tokens = await client.embeddings.create({ model: 'titan', input: [[1, 2, 3]] }).catch((e: unknown) => e);
    expect(tokens).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'input' });
  });
});

describe('Chat and embeddings models kept apart', () => {
  it('GET /v1/models offers embeddings models only for embeddings and chat models never for embeddings, in OpenAI\'s model shape', async () => {
    const page = await client.models.list();
    const byId = new Map(page.data.map((m) => [m.id, m as OpenAI.Models.Model & { surfaces: string[] }]));
    for (const id of ['embed', 'titan', 'cohere']) expect(byId.get(id)?.surfaces).toEqual(['embeddings']);
    for (const id of ['gpt', 'gpt-native', 'claude']) {
      expect(byId.get(id)?.surfaces).toContain('chat.completions');
      expect(byId.get(id)?.surfaces).not.toContain('embeddings');
    }
    expect(byId.get('nova')?.surfaces).toEqual(['chat.completions', 'messages', 'responses']);
    for (const m of page.data) expect(Object.keys(m).sort()).toEqual(['created', 'id', 'object', 'owned_by', 'surfaces']);
    expect(byId.get('titan')).toMatchObject({ object: 'model', owned_by: 'bedrock', created: expect.any(Number) });
  });

  it('refuses a chat request to an embeddings model and an embeddings request to a chat model with a 400 naming the model, before any upstream call or charge', async () => {
    const refused = await rig.newKey({ name: 'mode-refused' });
    const c = rig.client(refused.apiKey);
    const before = rig.openai.requests.length + rig.bedrock.requests.length;
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as APIError);
    const chat = await errorOf(c.chat.completions.create({ model: 'titan', messages: [{ role: 'user', content: 'hi' }] }));
    expect(chat).toMatchObject({ status: 400, code: 'model_not_supported', param: 'model' });
    expect(chat?.message).toMatch(/embeddings model: use POST \/v1\/embeddings/);
    const responses = await errorOf(c.responses.create({ model: 'embed', input: 'hi' }));
    expect(responses).toMatchObject({ status: 400, code: 'model_not_supported' });
    const count = await fetch(`${rig.gateway.url}/messages/count_tokens`, { method: 'POST', headers: { 'x-api-key': refused.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'titan', messages: [{ role: 'user', content: 'hi' }] }) });
    expect([count.status, ((await count.json()) as { error: { type: string } }).error.type]).toEqual([400, 'invalid_request_error']);
    const embeddings = await errorOf(c.embeddings.create({ model: 'gpt', input: 'hi' }));
    expect(embeddings).toMatchObject({ status: 400, code: 'model_not_supported', param: 'model' });
    expect(rig.openai.requests.length + rig.bedrock.requests.length).toBe(before);
    expect(await recordsOf(refused.keyId)).toEqual([]);
  });
});

describe('Budgets and rate limits on both surfaces, under concurrency', () => {
  it('a hard budget holds across 60 concurrent embeddings and responses: spend never passes the cap, nothing leaks', async () => {
    // Usage as large as the prompt really is (an upstream reporting far more than the prompt holds is
    // pricing's reconciliation, not this test): 'hi' is ~8 tokens with chat framing.
    rig.openai.setDefault({ kind: 'ok', usage: { promptTokens: 8, completionTokens: 50 } });
    const capUsd = 0.0005;
    const budgeted = await rig.newKey({ name: 'budget-s2', budgets: [{ scope: 'key', period: 'day', limitUsd: capUsd, mode: 'hard' }] });
    const c = rig.client(budgeted.apiKey);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 === 0 ? c.embeddings.create({ model: 'titan', input: 'budgeted text' }) : c.responses.create({ model: 'gpt', input: 'hi', max_output_tokens: 50 })).then(
          () => 'ok' as const,
          (e: unknown) => (e instanceof APIError ? `${e.status}:${String(e.code)}` : 'other'),
        ),
      ),
    );
    const ok = results.filter((r) => r === 'ok').length;
    expect(ok).toBeGreaterThan(0);
    expect(results.filter((r) => r !== 'ok').every((r) => r === '429:insufficient_quota')).toBe(true);
    expect(results.some((r) => r !== 'ok')).toBe(true);
    const records = await recordsOf(budgeted.keyId);
    expect(records).toHaveLength(ok);
    const spent = records.reduce((n, r) => n + r.costMicros, 0);
    // Admission leases still hold headroom for the next requests; once given back nothing stays reserved.
    await rig.gateway.runtime.gatekeeper.releaseLeases();
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', budgeted.keyId, periods().day);
    expect(budget.spentMicros).toBe(spent);
    expect(budget.spentMicros).toBeLessThanOrEqual(capUsd * 1e6);
    expect(budget.reservedMicros).toBe(0);
  });

  it('RPM admits exactly N of 40 concurrent requests mixed across responses and embeddings', async () => {
    const second = new Date().getUTCSeconds();
    if (second >= 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const limited = await rig.newKey({ name: 'rpm-s2', rateLimits: { rpm: 10 } });
    const c = rig.client(limited.apiKey);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? c.embeddings.create({ model: 'titan', input: 'x' }) : c.responses.create({ model: 'nova', input: 'hi' })).then(
          () => 200,
          (e: unknown) => (e instanceof APIError ? (e.status ?? 0) : 0),
        ),
      ),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(10);
    expect(results.filter((s) => s === 429)).toHaveLength(30);
    expect(await recordsOf(limited.keyId)).toHaveLength(10);
  });
});
