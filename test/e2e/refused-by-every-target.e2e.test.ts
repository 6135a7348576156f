/**
 * A request no target of its model can take (a field every target's request mapping refuses) is refused
 * before admission: a 400 naming the field, in the surface's shape, with no usage record, no rate-limit
 * slot and no budget reservation. A target that cannot take a request is skipped without an attempt.
 * Driven by the official `openai` client against the real local gateway, DynamoDB Local and the doubles.
 */
import Anthropic from '@anthropic-ai/sdk';
import { APIError } from 'openai';
import { periods, startRig, type Rig } from './support/harness';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({
    extend: () => ({
      models: {
        // Anthropic first, an OpenAI-compatible host second: `seed` is refused by the first only.
        'claude-then-gpt': {
          maxOutputTokens: 1000,
          targets: [
            { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 30_000 },
            { provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 },
          ],
        },
        titan: { targets: [{ provider: 'bedrock', model: 'amazon.titan-embed-text-v2:0' }] },
        // Two targets that both refuse `response_format` json.
        'claude-then-nova': {
          maxOutputTokens: 1000,
          targets: [
            { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 30_000 },
            { provider: 'bedrock', model: 'amazon.nova-lite-v1:0', timeoutMs: 30_000 },
          ],
        },
      },
      pricing: { 'bedrock/amazon.titan-embed-text-v2:0': { input: 0.02, output: 0 } },
    }),
  });
});
afterAll(() => rig?.close());

async function recordsOf(keyId: string, requestId?: string | null) {
  await rig.gateway.idle();
  const all = await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
  return requestId === undefined ? all : all.filter((r) => r.requestId === requestId);
}

/** RPM windows are per minute: start a sequence that must stay in one window early enough in it. */
async function earlyInMinute(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
}

/** A fresh key with RPM 1 and a hard monthly budget, so that any admission would show. */
const limitedKey = () => rig.newKey({ name: 'refused', rateLimits: { rpm: 1 }, budgets: [{ scope: 'key', period: 'month', limitUsd: 1, mode: 'hard' }] });

/** Never metered: no record (not even a $0 one), nothing spent or reserved (no admission lease taken), RPM=1 window untouched. */
async function expectNothingTaken(apiKey: string, keyId: string, requestId: string | null | undefined): Promise<void> {
  expect(requestId).toBeTruthy();
  expect(await recordsOf(keyId, requestId)).toEqual([]);
  const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, periods().month);
  expect(budget).toMatchObject({ spentMicros: 0, reservedMicros: 0 });
  // The next request is admitted, and the one after it is not: the window was there to take.
  const client = rig.client(apiKey);
  const ok = await client.chat.completions.create({ model: 'gpt', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  expect(ok.choices[0].message.content).toBeTruthy();
  const limited = await client.chat.completions.create({ model: 'gpt', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).then(() => undefined, (e: unknown) => e);
  expect(limited).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  expect((await recordsOf(keyId)).map((r) => r.status)).toEqual(['success']);
}

const upstreamCalls = () => rig.openai.requests.length + rig.anthropic.requests.length + rig.bedrock.requests.length;

describe('A request every target refuses is refused before admission', () => {
  it.each([
    {
      name: 'response_format json on chat (Anthropic then Bedrock)',
      param: 'response_format',
      send: (c: ReturnType<Rig['client']>) =>
        c.chat.completions.create({ model: 'claude-then-nova', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }).withResponse(),
    },
    {
      name: '`messages` on /v1/responses to a non-native target',
      param: 'messages',
      send: (c: ReturnType<Rig['client']>) =>
        c.responses.create({ model: 'claude', input: 'x', messages: [{ role: 'user', content: 'x' }] } as unknown as Parameters<typeof c.responses.create>[0]).withResponse(),
    },
    {
      name: '`messages` on a streamed /v1/responses to an OpenAI-compatible host without a native Responses API',
      param: 'messages',
      send: (c: ReturnType<Rig['client']>) =>
        c.responses.create({ model: 'gpt', input: 'x', stream: true, messages: [{ role: 'user', content: 'x' }] } as unknown as Parameters<typeof c.responses.create>[0]).withResponse(),
    },
    {
      name: '`messages` on a streamed /v1/responses to a non-native target (still a plain JSON 400, no prelude)',
      param: 'messages',
      send: (c: ReturnType<Rig['client']>) =>
        c.responses.create({ model: 'claude', input: 'x', stream: true, messages: [{ role: 'user', content: 'x' }] } as unknown as Parameters<typeof c.responses.create>[0]).withResponse(),
    },
  ])('$name: 400 naming the field; no record, no rate-limit slot, nothing reserved', async ({ param, send }) => {
    const { apiKey, keyId } = await limitedKey();
    const client = rig.client(apiKey);
    await earlyInMinute();
    const before = upstreamCalls();

    const err = await send(client).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const refused = err as APIError;
    expect(refused).toMatchObject({ status: 400, code: 'unsupported_parameter', param, type: 'invalid_request_error' });
    expect(refused.message).toContain(`does not support '${param}'`);
    expect(upstreamCalls()).toBe(before);
    await expectNothingTaken(apiKey, keyId, refused.headers?.get('x-tollgate-request-id'));
  }, 90_000);

  it('thinking on /v1/messages to a model that is not Anthropic\'s: 400 in Anthropic\'s shape, nothing taken', async () => {
    const { apiKey, keyId } = await limitedKey();
    await earlyInMinute();
    const before = upstreamCalls();
    const client = new Anthropic({ apiKey, baseURL: new URL(rig.gateway.url).origin, maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'nova', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'x' }] })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const refused = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(refused.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining("does not support 'thinking") } });
    expect(upstreamCalls()).toBe(before);
    await expectNothingTaken(apiKey, keyId, refused.headers?.get('x-tollgate-request-id'));
  }, 90_000);

  it('top_k on /v1/messages to an OpenAI-compatible host (the translation refuses it): 400 in Anthropic\'s shape, nothing taken', async () => {
    const { apiKey, keyId } = await limitedKey();
    await earlyInMinute();
    const before = upstreamCalls();
    const client = new Anthropic({ apiKey, baseURL: new URL(rig.gateway.url).origin, maxRetries: 0 });
    const err = await client.messages.create({ model: 'gpt', max_tokens: 20, top_k: 5, messages: [{ role: 'user', content: 'x' }] }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const refused = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(refused.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining("does not support 'top_k'") } });
    expect(upstreamCalls()).toBe(before);
    await expectNothingTaken(apiKey, keyId, refused.headers?.get('x-tollgate-request-id'));
  }, 90_000);

  it('token ids to a Bedrock embeddings model: 400 naming `input`, nothing taken', async () => {
    const { apiKey, keyId } = await limitedKey();
    await earlyInMinute();
    const before = upstreamCalls();
    const err = await rig.client(apiKey).embeddings.create({ model: 'titan', input: [[1, 2, 3]] }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'input' });
    expect(upstreamCalls()).toBe(before);
    await expectNothingTaken(apiKey, keyId, (err as APIError).headers?.get('x-tollgate-request-id'));
  }, 90_000);

  it('skips a target that refuses the request without an attempt: served by the next, one record, no failed attempt', async () => {
    const { apiKey, keyId } = await rig.newKey({ name: 'skip', rateLimits: { rpm: 5 }, budgets: [{ scope: 'key', period: 'month', limitUsd: 1, mode: 'hard' }] });
    const anthropicBefore = rig.anthropic.requests.length;
    rig.openai.setScript({ kind: 'ok', text: 'seeded', usage: { promptTokens: 9, completionTokens: 2 } });

    const { data, response } = await rig
      .client(apiKey)
      .chat.completions.create({ model: 'claude-then-gpt', seed: 7, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    expect(data.choices[0].message.content).toBe('seeded');
    expect(response.headers.get('x-tollgate-provider')).toBe('openai');
    expect(response.headers.get('x-tollgate-attempts')).toBe('1');
    expect(response.headers.get('x-tollgate-fallback')).toBe('false');
    expect(rig.anthropic.requests.length).toBe(anthropicBefore);

    const records = await recordsOf(keyId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ requestId: response.headers.get('x-tollgate-request-id'), status: 'success', provider: 'openai', attempts: 1, fallback: false, inputTokens: 9, outputTokens: 2 });
    expect(records.filter((r) => r.status === 'upstream_error')).toEqual([]);
  }, 30_000);
});
