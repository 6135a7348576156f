/**
 * The backbone end to end: the official `openai` client → the local gateway (same composition as
 * `npm start`, store on DynamoDB Local) → provider doubles speaking OpenAI SSE, Anthropic SSE and
 * Bedrock's event-stream framing. Every request carries a real gateway key.
 */
import OpenAI, { APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, periods, startRig, type Rig } from './support/harness';

let rig: Rig;
let apiKey: string;
let keyId: string;
let client: OpenAI;

beforeAll(async () => {
  rig = await startRig({ configOverrides: { metering: { keyCacheSeconds: 0 } } });
  ({ apiKey, keyId } = await rig.newKey({ name: 'e2e-main', team: 'search', defaultFeature: 'chat', budgets: [{ scope: 'key', period: 'month', limitUsd: 100, mode: 'hard' }] }));
  client = rig.client(apiKey);
});

afterAll(async () => {
  await rig?.close();
});

beforeEach(() => {
  for (const d of [rig.openai, rig.flaky, rig.anthropic, rig.bedrock]) {
    d.setScript();
    d.setDefault({ kind: 'ok' });
  }
});

async function records(requestId: string) {
  await rig.gateway.idle();
  const all = await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
  return all.filter((r) => r.requestId === requestId);
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

describe('GET /v1/models', () => {
  it('lists the configured aliases in OpenAI list format', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id).sort()).toEqual(['claude', 'gpt', 'nova', 'resilient']);
  });
});

describe('POST /v1/chat/completions through each provider kind', () => {
  // List prices per million tokens (input / output): gpt-4o-mini 0.15 / 0.60, claude-sonnet-4-5 3 / 15,
  // nova-lite 0.06 / 0.24. Costs are integer micro-dollars, rounded up.
  it.each([
    ['gpt', 'openai', 'gpt-4o-mini', 8], // 21 × 0.15 + 7 × 0.60 = 7.35
    ['claude', 'anthropic', 'claude-sonnet-4-5-20250929', 168], // 21 × 3 + 7 × 15
    ['nova', 'bedrock', 'amazon.nova-lite-v1:0', 3], // 21 × 0.06 + 7 × 0.24 = 2.94
  ])('answers a non-streaming request for %s from %s and meters what the upstream reported', async (model, provider, upstreamModel, costMicros) => {
    const double = rig[provider as 'openai' | 'anthropic' | 'bedrock'];
    double.setScript({ kind: 'ok', text: `Hello from ${provider}.`, usage: { promptTokens: 21, completionTokens: 7 } });
    const { data, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0].message.content).toBe(`Hello from ${provider}.`);
    expect(data.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 7, total_tokens: 28 });
    expect(response.headers.get('x-tollgate-provider')).toBe(provider);
    expect(response.headers.get('x-tollgate-upstream-model')).toBe(upstreamModel);
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ provider, upstreamModel, inputTokens: 21, outputTokens: 7, estimated: false, status: 'success', team: 'search', feature: 'chat' });
    expect(record.costMicros).toBe(costMicros);
  });

  it.each([
    ['gpt', 8], // 30 × 0.15 + 5 × 0.60 = 7.5
    ['claude', 165], // 30 × 3 + 5 × 15
    ['nova', 3], // 30 × 0.06 + 5 × 0.24 = 3.0 exactly (no float drift)
  ])('streams %s chunk by chunk with a final usage chunk when include_usage is set, and meters it', async (model, costMicros) => {
    const provider = model === 'gpt' ? rig.openai : model === 'claude' ? rig.anthropic : rig.bedrock;
    provider.setScript({ kind: 'ok', chunkCount: 5, chunkDelayMs: 5, usage: { promptTokens: 30, completionTokens: 5 } });
    const { data: stream, response } = await client.chat.completions
      .create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count' }] })
      .withResponse();
    const chunks = await collect(stream);
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ inputTokens: 30, outputTokens: 5, estimated: false, stream: true, status: 'success', costMicros });
    expect(record.ttftMs).toBeGreaterThanOrEqual(0);
    expect(text(chunks)).toBe('tok tok tok tok tok ');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 5 });
  });

  it('asks the upstream for usage even when the client did not, hides it from the client, and meters it', async () => {
    rig.openai.setScript({ kind: 'ok', chunkCount: 3, usage: { promptTokens: 11, completionTokens: 3 } });
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    const chunks = await collect(stream);
    expect(chunks.every((c) => c.usage == null)).toBe(true);
    expect(rig.openai.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ inputTokens: 11, outputTokens: 3, estimated: false, stream: true });
  });

  it('sends the provider key upstream, never the gateway key', async () => {
    await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'a' }] });
    await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'a' }] });
    const openaiReq = rig.openai.requests.at(-1)!;
    const anthropicReq = rig.anthropic.requests.at(-1)!;
    expect(openaiReq.headers.authorization).toBe(`Bearer ${OPENAI_UPSTREAM_KEY}`);
    expect(anthropicReq.headers['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(JSON.stringify([openaiReq.headers, anthropicReq.headers, rig.bedrock.requests.map((r) => r.headers)])).not.toContain(apiKey);
  });

  it('prices cached tokens at the cache price (Anthropic cache read and write)', async () => {
    rig.anthropic.setScript({ kind: 'ok', usage: { promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 600_000, cacheWriteTokens: 100_000 } });
    const { response } = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'long' }] }).withResponse();
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    // 1M input is above claude-sonnet-4-5's 200K long-context threshold, so every token is at the tier's
    // price per million: input $6, cache read $0.60, cache write $7.50.
    // 300k uncached input = $1.80, 600k cache read = $0.36, 100k cache write = $0.75.
    expect(record).toMatchObject({ inputTokens: 1_000_000, cacheReadTokens: 600_000, cacheWriteTokens: 100_000 });
    expect(record.costMicros).toBe(1_800_000 + 360_000 + 750_000);
  });
});

describe('Tool calls and images', () => {
  it.each(['gpt', 'claude', 'nova'])('streams tool-call deltas from %s that the client can reassemble', async (model) => {
    const double = model === 'gpt' ? rig.openai : model === 'claude' ? rig.anthropic : rig.bedrock;
    double.setScript({ kind: 'ok', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' }] });
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } } } }],
    });
    const chunks = await collect(stream);
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas[0].function?.name).toBe('get_weather');
    expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual({ city: 'Paris', unit: 'c' });
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['tool_calls']);
  });

  it('passes image parts through to Bedrock as bytes and to Anthropic as base64 sources', async () => {
    const image = 'data:image/png;base64,iVBORw0KGgo=';
    const messages = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'what is this?' }, { type: 'image_url' as const, image_url: { url: image } }] }];
    await client.chat.completions.create({ model: 'nova', messages });
    await client.chat.completions.create({ model: 'claude', messages });
    expect(JSON.stringify(rig.bedrock.requests.at(-1)!.body)).toContain('"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}');
    expect(JSON.stringify(rig.anthropic.requests.at(-1)!.body)).toContain('"source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}');
  });
});

describe('Fallback', () => {
  it('retries a 503ing target, then falls back to a healthy one, and says so in headers and the record', async () => {
    rig.flaky.setDefault({ kind: 'status', status: 503 });
    rig.bedrock.setScript({ kind: 'ok', text: 'from bedrock' });
    const before = rig.flaky.requests.length;
    const { data, response } = await client.chat.completions.create({ model: 'resilient', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0].message.content).toBe('from bedrock');
    expect(rig.flaky.requests.length - before).toBe(2); // first try + 1 retry
    expect(response.headers.get('x-tollgate-provider')).toBe('bedrock');
    expect(response.headers.get('x-tollgate-fallback')).toBe('true');
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ fallback: true, attempts: 3, provider: 'bedrock' });
  });

  it('falls back when the first target hangs before the first byte (streaming)', async () => {
    rig.flaky.setDefault({ kind: 'hang' });
    rig.bedrock.setScript({ kind: 'ok', chunkCount: 2 });
    const stream = await client.chat.completions.create({ model: 'resilient', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(text(await collect(stream))).toBe('tok tok ');
  });

  it('falls back on 429 from the first target', async () => {
    rig.flaky.setDefault({ kind: 'status', status: 429 });
    const res = await client.chat.completions.create({ model: 'resilient', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0].message.content).toBeTruthy();
  });

  it('answers 502/503 in OpenAI shape when every target fails', async () => {
    rig.flaky.setDefault({ kind: 'status', status: 503 });
    rig.bedrock.setScript({ kind: 'status', status: 503, errorType: 'ServiceUnavailableException' });
    const err = await client.chat.completions.create({ model: 'resilient', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBeGreaterThanOrEqual(500);
    expect((err as APIError).error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
  });
});

describe('Failures after the first byte', () => {
  it('ends a stream whose upstream drops mid-way with an error event, meters an estimate, and does not fall back', async () => {
    rig.openai.setScript({ kind: 'dropMidStream', afterChunks: 3, chunkCount: 10 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'count' }] }).withResponse();
    const seen: ChatCompletionChunk[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(text(seen)).toBe('tok tok tok ');
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ status: 'stream_error', estimated: true, provider: 'openai' });
    expect(record.outputTokens).toBeGreaterThan(0);
  });

  it('cancels the upstream request when the client goes away, and settles the reservation', async () => {
    rig.openai.setScript({ kind: 'ok', chunkCount: 200, chunkDelayMs: 20 });
    const before = rig.openai.requests.length;
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'long' }] }, { signal: controller.signal })
      .withResponse();
    let n = 0;
    await (async () => {
      for await (const _ of stream) {
        if (++n === 3) controller.abort();
      }
    })().catch(() => undefined);
    await rig.openai.waitForAbort(before, 5_000);
    expect(rig.openai.requests[before].aborted).toBe(true);
    const [record] = await records(response.headers.get('x-tollgate-request-id')!);
    expect(record).toMatchObject({ status: 'client_abort', estimated: true });
    // Admission leases hold headroom for the next requests; given back, nothing stays reserved.
    await rig.gateway.idle();
    await rig.gateway.runtime.gatekeeper.releaseLeases();
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, periods().month);
    expect(budget.reservedMicros).toBe(0);
  });
});

describe('Bad input never reaches an upstream and is never metered', () => {
  const raw = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${rig.gateway.url}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers }, body });

  it.each([
    ['malformed JSON', '{"model": "gpt", ', 400, 'invalid_json'],
    ['missing messages', '{"model":"gpt"}', 400, undefined],
    ['wrong-typed field', '{"model":"gpt","messages":[{"role":"user","content":"x"}],"temperature":"hot"}', 400, undefined],
    ['unknown field', '{"model":"gpt","messages":[{"role":"user","content":"x"}],"bogus":1}', 400, undefined],
    ['unknown model', '{"model":"nope","messages":[{"role":"user","content":"x"}]}', 404, 'model_not_found'],
    ['body over the limit', JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] }), 413, 'request_too_large'],
  ])('%s → %i in OpenAI error shape', async (_name, body, status, code) => {
    const counts = [rig.openai, rig.anthropic, rig.bedrock, rig.flaky].map((d) => d.requests.length);
    const res = await raw(body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { message: string; type: string; param: unknown; code: unknown } };
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    if (code) expect(json.error.code).toBe(code);
    expect([rig.openai, rig.anthropic, rig.bedrock, rig.flaky].map((d) => d.requests.length)).toEqual(counts);
    const requestId = res.headers.get('x-tollgate-request-id')!;
    expect(await records(requestId)).toEqual([]);
  });

  it.each([
    ['text/plain;charset=UTF-8', 'fetch with a string body and no header'],
    ['application/x-www-form-urlencoded', 'curl -d without -H'],
    ['multipart/form-data; boundary=x', 'a form upload'],
  ])('a body declared %s (%s) → 415 unsupported_content_type, before anything else', async (type) => {
    const counts = [rig.openai, rig.anthropic, rig.bedrock, rig.flaky].map((d) => d.requests.length);
    const res = await raw(JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] }), { 'content-type': type });
    expect(res.status).toBe(415);
    const json = (await res.json()) as { error: { message: string; type: string; code: string } };
    expect(json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_content_type' });
    expect(json.error.message).toContain("Content-Type: application/json");
    expect([rig.openai, rig.anthropic, rig.bedrock, rig.flaky].map((d) => d.requests.length)).toEqual(counts);
    expect(await records(res.headers.get('x-tollgate-request-id')!)).toEqual([]);
  });

  it.each([['application/json; charset=utf-8'], ['APPLICATION/JSON'], ['application/vnd.api+json'], [undefined]])('a body declared %s is read as JSON', async (type) => {
    const res = await fetch(`${rig.gateway.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, ...(type ? { 'content-type': type } : {}) },
      // A Blob without a type: fetch sends no content-type at all.
      body: new Blob([JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] })]),
    });
    expect(res.status).toBe(200);
  });

  it('refuses a field the only target cannot honour with 400 naming the param', async () => {
    const err = await client.chat.completions.create({ model: 'claude', n: 2, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
    expect((err as APIError).code).toBe('unsupported_parameter');
    expect((err as APIError).param).toBe('n');
  });

  it('answers 405 for a wrong method and 404 for an unknown path', async () => {
    const get = await fetch(`${rig.gateway.url}/chat/completions`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(get.status).toBe(405);
    const unknown = await fetch(`${rig.gateway.url}/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: '{}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { type: string } }).error.type).toBeDefined();
  });
});

describe('Keys', () => {
  it('rejects a missing, wrong, revoked or expired key with 401 and a disallowed model with 403', async () => {
    const call = (key: string, model = 'gpt') =>
      rig
        .client(key)
        .chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })
        .then(() => ({ status: 200 }))
        .catch((e: unknown) => ({ status: (e as APIError).status }));
    expect((await call('tg_not-a-real-key')).status).toBe(401);
    const revoked = await rig.newKey({ name: 'to-revoke' });
    expect((await call(revoked.apiKey)).status).toBe(200);
    await rig.gateway.runtime.gatekeeper.keys.revoke(revoked.keyId);
    expect((await call(revoked.apiKey)).status).toBe(401);
    const expired = await rig.newKey({ name: 'expired', expiresAt: Date.now() - 1_000 });
    expect((await call(expired.apiKey)).status).toBe(401);
    const narrow = await rig.newKey({ name: 'narrow', allowedModels: ['claude'] });
    const denied = await call(narrow.apiKey, 'gpt');
    expect(denied.status).toBe(403);
    const noKey = await fetch(`${rig.gateway.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
  });

  it('accepts the key as x-api-key too', async () => {
    const res = await fetch(`${rig.gateway.url}/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(200);
  });
});
