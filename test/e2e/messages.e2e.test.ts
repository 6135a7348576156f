/**
 * POST /v1/messages end to end: the official @anthropic-ai/sdk against the local gateway (DynamoDB Local),
 * routed to the Anthropic double (passthrough), the Bedrock double (Converse) and the OpenAI double
 * (chat translation); metered into usage records, a hard budget and RPM holding under concurrency, errors in
 * Anthropic's shape.
 */
import Anthropic from '@anthropic-ai/sdk';
import { periods, startRig, ANTHROPIC_UPSTREAM_KEY, type Rig } from './support/harness';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({
    configOverrides: {
      models: {
        claude: { maxOutputTokens: 1000, targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 30_000 }] },
        haiku: { maxOutputTokens: 1000, targets: [{ provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', timeoutMs: 30_000 }] },
        gpt: { maxOutputTokens: 1000, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] },
        'haiku-think': { maxOutputTokens: 4000, targets: [{ provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', timeoutMs: 30_000 }] },
        nova: { maxOutputTokens: 4000, targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0', timeoutMs: 30_000 }] },
      },
    },
  });
}, 60_000);
afterAll(() => rig?.close());

function anthropic(apiKey: string): Anthropic {
  return new Anthropic({ apiKey, baseURL: new URL(rig.gateway.url).origin, maxRetries: 0 });
}

async function records(keyId: string) {
  await rig.gateway.idle();
  return rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
}

const TOOLS: Anthropic.Tool[] = [
  { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
];

describe('Messages to an Anthropic target (passthrough)', () => {
  it('answers non-streamed, forwards the client body, version and beta headers with the provider key, and reports usage.cost', async () => {
    rig.anthropic.setDefault({ kind: 'ok', text: 'Hello there', usage: { promptTokens: 2000, completionTokens: 10, cachedTokens: 1500, cacheWriteTokens: 400 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-native' });
    const before = rig.anthropic.requests.length;
    const msg = await anthropic(apiKey).messages.create(
      {
        model: 'claude',
        max_tokens: 200,
        system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hi' }],
        metadata: { user_id: 'u-1' },
        stop_sequences: ['END'],
      },
      { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } },
    );
    expect(msg.content).toEqual([{ type: 'text', text: 'Hello there' }]);
    expect(msg.usage).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 1500, cache_creation_input_tokens: 400, output_tokens: 10 });
    // Sonnet 4.5: 100 × $3 + 1500 × $0.30 + 400 × $3.75 + 10 × $15 per M = 300 + 450 + 1500 + 150 µ$
    expect((msg.usage as unknown as { cost: number }).cost).toBeCloseTo(0.0024, 9);
    const upstream = rig.anthropic.requests[before];
    expect(upstream.headers['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(upstream.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(upstream.body).toMatchObject({ model: 'claude-sonnet-4-5-20250929', system: [{ cache_control: { type: 'ephemeral' } }], metadata: { user_id: 'u-1' }, stop_sequences: ['END'] });
    const [record] = await records(keyId);
    expect(record).toMatchObject({ provider: 'anthropic', inputTokens: 2000, outputTokens: 10, cacheReadTokens: 1500, cacheWriteTokens: 400, costMicros: 2400, status: 'success' });
  });

  it('streams event for event (tool use included) and meters usage from message_start / message_delta', async () => {
    rig.anthropic.setDefault({ kind: 'ok', toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage: { promptTokens: 50, completionTokens: 20 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-native-stream' });
    const client = anthropic(apiKey);
    const stream = client.messages.stream({ model: 'claude', max_tokens: 300, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }]);
    // The SDK's accumulator keeps only the usage fields it knows: the raw message_delta carries the cost.
    const raw = await client.messages.create({ model: 'claude', max_tokens: 300, stream: true, messages: [{ role: 'user', content: 'again' }] });
    let cost: number | undefined;
    for await (const event of raw) if (event.type === 'message_delta') cost = (event.usage as unknown as { cost?: number }).cost;
    // Sonnet 4.5: 50 × $3 + 20 × $15 per M = 450 µ$
    expect(cost).toBeCloseTo(0.00045, 9);
    const [record] = await records(keyId);
    expect(record).toMatchObject({ stream: true, inputTokens: 50, outputTokens: 20, costMicros: 450, status: 'success', estimated: false });
  });
});

describe('Messages to Bedrock (Converse) and to an OpenAI-compatible host (chat)', () => {
  it('translates a multi-turn tool conversation to Converse with a cache point for cache_control, and meters cache tokens', async () => {
    rig.bedrock.setDefault({ kind: 'ok', text: 'It is sunny.', usage: { promptTokens: 3000, completionTokens: 5, cachedTokens: 2800 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-bedrock' });
    const before = rig.bedrock.requests.length;
    const msg = await anthropic(apiKey).messages.create({
      model: 'haiku',
      max_tokens: 100,
      system: [{ type: 'text', text: 'Long cached system prompt. '.repeat(50), cache_control: { type: 'ephemeral' } }],
      tools: TOOLS,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'sunny, 21C' }] },
      ],
    });
    expect(msg.content).toEqual([{ type: 'text', text: 'It is sunny.' }]);
    expect(msg.usage).toMatchObject({ input_tokens: 200, cache_read_input_tokens: 2800, output_tokens: 5 });
    const body = rig.bedrock.requests[before].body as { system: unknown[]; messages: Array<{ content: unknown[] }> };
    expect(body.system).toEqual([{ text: expect.any(String) }, { cachePoint: { type: 'default' } }]);
    expect(body.messages[1].content).toEqual([{ toolUse: { toolUseId: 'toolu_9', name: 'get_weather', input: { city: 'Paris' } } }]);
    expect(body.messages[2].content).toEqual([{ toolResult: { toolUseId: 'toolu_9', content: [{ text: 'sunny, 21C' }] } }]);
    const [record] = await records(keyId);
    // Haiku 4.5 on a regional Bedrock profile (catalog: 10% over list): 200 × $1.10 + 2800 × $0.11 + 5 × $5.50 per M = 220 + 308 + 27.5 → 556 µ$
    expect(record).toMatchObject({ provider: 'bedrock', inputTokens: 3000, cacheReadTokens: 2800, outputTokens: 5, costMicros: 556 });
  });

  it('streams tool calls from Bedrock as Anthropic tool_use blocks', async () => {
    rig.bedrock.setDefault({ kind: 'ok', toolCalls: [{ id: 'tu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }], usage: { promptTokens: 40, completionTokens: 12 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-bedrock-stream' });
    const final = await anthropic(apiKey).messages.stream({ model: 'haiku', max_tokens: 100, tools: TOOLS, messages: [{ role: 'user', content: 'Oslo?' }] }).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([{ type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Oslo' } }]);
    expect(final.usage).toMatchObject({ input_tokens: 40, output_tokens: 12 });
    const [record] = await records(keyId);
    expect(record).toMatchObject({ stream: true, inputTokens: 40, outputTokens: 12, status: 'success' });
  });

  it('serves an OpenAI-compatible target through chat, streamed and not, without cache_control upstream', async () => {
    rig.openai.setDefault({ kind: 'ok', text: 'Bonjour', usage: { promptTokens: 12, completionTokens: 3 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-openai' });
    const before = rig.openai.requests.length;
    const client = anthropic(apiKey);
    const msg = await client.messages.create({ model: 'gpt', max_tokens: 50, messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hi', cache_control: { type: 'ephemeral' } }] }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'Bonjour' }]);
    const text = await client.messages.stream({ model: 'gpt', max_tokens: 50, messages: [{ role: 'user', content: 'Say hi' }] }).finalText();
    expect(text).toBe('Bonjour');
    expect(JSON.stringify(rig.openai.requests[before].body)).not.toContain('cache_control');
    expect((await records(keyId)).map((r) => r.outputTokens)).toEqual([3, 3]);
  });
});

describe('Extended thinking on Bedrock (Converse additionalModelRequestFields, reasoningContent back as thinking blocks)', () => {
  const THINKING = { text: 'The user wants the weather. I should call the tool.', signature: 'sig-EqQBCkYIBx', redacted: Buffer.from('opaque').toString('base64') };

  it('streams reasoningContent deltas as thinking, signature and redacted_thinking blocks, and meters thinking as output', async () => {
    // Output tokens as Bedrock reports them include the thinking tokens.
    rig.bedrock.setDefault({ kind: 'ok', text: 'Sunny.', thinking: THINKING, usage: { promptTokens: 60, completionTokens: 700 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-think-stream' });
    const before = rig.bedrock.requests.length;
    const stream = anthropic(apiKey).messages.stream({ model: 'haiku-think', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'Weather?' }] });
    const thoughts: string[] = [];
    stream.on('thinking', (delta) => thoughts.push(delta));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([
      { type: 'thinking', thinking: THINKING.text, signature: THINKING.signature },
      { type: 'redacted_thinking', data: THINKING.redacted },
      { type: 'text', text: 'Sunny.' },
    ]);
    expect(thoughts.join('')).toBe(THINKING.text);
    expect(final.usage).toMatchObject({ input_tokens: 60, output_tokens: 700 });
    const upstream = rig.bedrock.requests[before];
    expect(upstream.path).toMatch(/converse-stream$/);
    expect(upstream.body).toMatchObject({ inferenceConfig: { maxTokens: 3000 }, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } } });
    const [record] = await records(keyId);
    // Haiku 4.5 regional: 60 × $1.10 + 700 × $5.50 per M = 66 + 3850 µ$
    expect(record).toMatchObject({ stream: true, inputTokens: 60, outputTokens: 700, costMicros: 3916, status: 'success', estimated: false });
  });

  it('answers non-streamed with thinking blocks first, and sends the signed thinking of a tool loop back as reasoningContent', async () => {
    rig.bedrock.setDefault({ kind: 'ok', text: 'It is sunny.', thinking: { text: 'Tool said sunny.', signature: 'sig-2' }, usage: { promptTokens: 90, completionTokens: 40 } });
    const { apiKey } = await rig.newKey({ name: 'msg-think' });
    const before = rig.bedrock.requests.length;
    const msg = await anthropic(apiKey).messages.create({
      model: 'haiku-think',
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: TOOLS,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should call the tool.', signature: 'sig-1' },
            { type: 'tool_use', id: 'toolu_7', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_7', content: 'sunny' }] },
      ],
    });
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: 'Tool said sunny.', signature: 'sig-2' },
      { type: 'text', text: 'It is sunny.' },
    ]);
    const body = rig.bedrock.requests[before].body as { messages: Array<{ content: unknown[] }>; additionalModelRequestFields: unknown };
    expect(body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(body.messages[1].content).toEqual([
      { reasoningContent: { reasoningText: { text: 'I should call the tool.', signature: 'sig-1' } } },
      { toolUse: { toolUseId: 'toolu_7', name: 'get_weather', input: { city: 'Paris' } } },
    ]);
  });

  it('sends an Anthropic target (passthrough) the max_tokens admission priced, not a larger one the client asked for', async () => {
    rig.anthropic.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 5, completionTokens: 1 } });
    const { apiKey } = await rig.newKey({ name: 'msg-native-cap' });
    const before = rig.anthropic.requests.length;
    await anthropic(apiKey).messages.create({ model: 'claude', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 900 }, messages: [{ role: 'user', content: 'x' }] });
    expect(rig.anthropic.requests[before].body).toMatchObject({ max_tokens: 1000, thinking: { type: 'enabled', budget_tokens: 900 } });
  });

  it('refuses a budget that does not fit below the capped max_tokens, and thinking on a non-Anthropic model, before any upstream call', async () => {
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-think-refused' });
    const client = anthropic(apiKey);
    const before = rig.bedrock.requests.length;
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    // Not below the client's own max_tokens.
    const own = await errorOf(client.messages.create({ model: 'haiku-think', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'x' }] }));
    expect(own).toBeInstanceOf(Anthropic.BadRequestError);
    expect(own?.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('budget_tokens') } });
    // Below what the client asked, not below the alias's cap (1000): the max_tokens sent would be 1000.
    const capped = await errorOf(client.messages.create({ model: 'haiku', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'x' }] }));
    expect(capped).toBeInstanceOf(Anthropic.BadRequestError);
    expect(capped?.message).toContain('1000');
    const nova = await errorOf(client.messages.create({ model: 'nova', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'x' }] }));
    expect(nova).toBeInstanceOf(Anthropic.BadRequestError);
    expect(nova?.message).toContain('Anthropic model');
    expect(rig.bedrock.requests.length).toBe(before);
    expect((await records(keyId)).reduce((sum, r) => sum + r.costMicros, 0)).toBe(0);
  });
});

describe('count_tokens and errors in Anthropic shape', () => {
  it('counts tokens without metering', async () => {
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-count' });
    const r = await anthropic(apiKey).messages.countTokens({ model: 'claude', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello, how are you today?' }], tools: TOOLS });
    expect(r.input_tokens).toBeGreaterThan(10);
    expect(await records(keyId)).toEqual([]);
  });

  it('answers bad input, unknown models and bad keys with the SDK error classes', async () => {
    const { apiKey } = await rig.newKey({ name: 'msg-errors' });
    const client = anthropic(apiKey);
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    const missing = await errorOf(client.messages.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    expect(missing).toBeInstanceOf(Anthropic.BadRequestError);
    expect(missing?.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const unknown = await errorOf(client.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }));
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect(unknown?.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const badKey = await errorOf(anthropic('tg-not-a-key').messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }));
    expect(badKey).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it('ends a stream that fails mid-way with an Anthropic error event the SDK raises', async () => {
    rig.anthropic.setDefault({ kind: 'streamError', afterChunks: 1, errorType: 'overloaded_error', message: 'Overloaded' });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-stream-error' });
    const stream = anthropic(apiKey).messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
    const [record] = await records(keyId);
    expect(record).toMatchObject({ status: 'stream_error' });
  });

  it('holds a hard budget under 40 concurrent Messages requests (streamed and not, Anthropic and Bedrock): spend never passes the cap, the refused get Anthropic 429s and are not metered', async () => {
    // Usage as large as the prompt really is: 'x' is 7 tokens as admission counts it (priming, message, text).
    // An upstream reporting more input than the prompt holds is pricing's reconciliation, not this test.
    rig.anthropic.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 7, completionTokens: 50 } });
    rig.bedrock.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 7, completionTokens: 50 } });
    // Sonnet 4.5 worst case per request: 7 × $3 + 50 × $15 per M = 771 µ$; Haiku regional: 7 × $1.10 + 50 × $5.50 = 282.7 µ$.
    const capUsd = 0.005;
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-budget', budgets: [{ scope: 'key', period: 'day', limitUsd: capUsd, mode: 'hard' }] });
    const client = anthropic(apiKey);
    const body = (i: number) => ({ model: i % 2 === 0 ? 'claude' : 'haiku', max_tokens: 50, messages: [{ role: 'user' as const, content: 'x' }] });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 4 < 2 ? client.messages.create(body(i)) : client.messages.stream(body(i)).finalMessage()).then(
          () => 'ok' as const,
          (e: unknown) => e,
        ),
      ),
    );
    const ok = results.filter((r) => r === 'ok').length;
    const refused = results.filter((r) => r !== 'ok');
    expect(ok).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      expect(e).toBeInstanceOf(Anthropic.RateLimitError);
      expect((e as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringMatching(/budget/i) } });
    }
    const metered = await records(keyId);
    expect(metered).toHaveLength(ok);
    expect(metered.every((r) => r.status === 'success')).toBe(true);
    const spent = metered.reduce((n, r) => n + r.costMicros, 0);
    // Admission leases may still hold headroom for the next requests; once given back nothing stays reserved.
    await rig.gateway.runtime.gatekeeper.releaseLeases();
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, periods().day);
    expect(budget.spentMicros).toBe(spent);
    expect(budget.spentMicros).toBeLessThanOrEqual(capUsd * 1e6);
    expect(budget.reservedMicros).toBe(0);
  });

  it('holds RPM under 20 concurrent Messages requests', async () => {
    rig.anthropic.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 5, completionTokens: 1 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'msg-rpm', rateLimits: { rpm: 5 } });
    const client = anthropic(apiKey);
    const second = new Date().getUTCSeconds();
    if (second >= 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => client.messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - refused.length).toBe(5);
    for (const r of refused) expect(r.reason).toBeInstanceOf(Anthropic.RateLimitError);
    expect(await records(keyId)).toHaveLength(5);
  }, 90_000);
});
