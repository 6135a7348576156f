import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { UnsupportedParameterError } from '../../../lambda/core/errors';
import type { ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { converseUsage, finishReason, fromConverseResponse, toConverseInput } from '../../../lambda/providers/bedrock/converse';
import { bedrockError } from '../../../lambda/providers/bedrock/errors';
import { ConverseStreamTranslator } from '../../../lambda/providers/bedrock/stream';

const req = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'amazon.nova-lite-v1:0',
  messages: [{ role: 'user', content: 'hi' }],
  ...over,
});
const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];
const never = new AbortController().signal;

describe('Method: toConverseInput', () => {
  it('maps a tool round trip into alternating turns with merged tool results', () => {
    const input = toConverseInput(
      'bedrock',
      req({
        tools,
        messages: [
          { role: 'developer', content: 'Dev' },
          { role: 'user', content: 'Go' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }, { id: 'b', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'a', content: 'one' },
          { role: 'tool', tool_call_id: 'b', content: 'two' },
        ],
      }),
      1_024,
    );
    expect(input.system).toEqual([{ text: 'Dev' }]);
    expect(input.messages).toEqual([
      { role: 'user', content: [{ text: 'Go' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'a', name: 'f', input: { x: 1 } } }, { toolUse: { toolUseId: 'b', name: 'f', input: {} } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'a', content: [{ text: 'one' }] } }, { toolResult: { toolUseId: 'b', content: [{ text: 'two' }] } }] },
    ]);
    expect(input.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }] });
  });

  it('maps inference settings and always sends the effective cap as maxTokens', () => {
    expect(toConverseInput('b', req({ max_completion_tokens: 5, top_p: 0.5, stop: 'X' }), 5).inferenceConfig).toEqual({ maxTokens: 5, topP: 0.5, stopSequences: ['X'] });
    expect(toConverseInput('b', req(), 1_024).inferenceConfig).toEqual({ maxTokens: 1_024 });
    expect(toConverseInput('b', req({ max_tokens: 50_000 }), 64_000).inferenceConfig).toEqual({ maxTokens: 64_000 });
  });

  it('decodes data-URL images to bytes with the matching format', () => {
    const input = toConverseInput('b', req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/webp;base64,AQID' } }] }] }), 1_024);
    const block = input.messages[0].content?.[0];
    expect(block?.image?.format).toBe('webp');
    expect(Array.from(block?.image?.source?.bytes ?? [])).toEqual([1, 2, 3]);
  });

  it.each([
    ['auto', { auto: {} }],
    ['required', { any: {} }],
    [{ type: 'function' as const, function: { name: 'f' } }, { tool: { name: 'f' } }],
  ] as const)('maps tool_choice %j', (choice, expected) => {
    expect(toConverseInput('b', req({ tools, tool_choice: choice }), 1_024).toolConfig?.toolChoice).toEqual(expected);
  });

  it("omits tools for tool_choice 'none' on a fresh conversation and refuses it once tools are in the history", () => {
    expect(toConverseInput('b', req({ tools, tool_choice: 'none' }), 1_024).toolConfig).toBeUndefined();
    const history = req({
      tools,
      tool_choice: 'none',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'a', content: 'r' },
      ],
    });
    expect(() => toConverseInput('b', history, 1_024)).toThrow(expect.objectContaining({ param: 'tool_choice' }));
  });

  it.each([
    ['seed', { seed: 1 }],
    ['n', { n: 3 }],
    ['response_format', { response_format: { type: 'json_schema' as const, json_schema: { name: 's' } } }],
    ['parallel_tool_calls', { tools, parallel_tool_calls: false }],
    ['temperature', { temperature: 1.2 }],
  ])('throws UnsupportedParameterError with param %s', (param, over) => {
    expect(() => toConverseInput('bedrock', req(over), 1_024)).toThrow(UnsupportedParameterError);
    expect(() => toConverseInput('bedrock', req(over), 1_024)).toThrow(expect.objectContaining({ param }));
  });
});

describe('Method: finishReason', () => {
  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['content_filtered', 'content_filter'],
    ['guardrail_intervened', 'content_filter'],
  ])('maps %s to %s', (reason, expected) => {
    expect(finishReason(reason)).toBe(expected);
  });
});

describe('Method: converseUsage', () => {
  it('adds cache reads and writes to prompt_tokens', () => {
    expect(converseUsage({ inputTokens: 10, outputTokens: 2, totalTokens: 112, cacheReadInputTokens: 90, cacheWriteInputTokens: 10 })).toEqual({
      prompt_tokens: 110,
      completion_tokens: 2,
      total_tokens: 112,
      prompt_tokens_details: { cached_tokens: 90, cache_write_tokens: 10 },
    });
  });
});

describe('Method: fromConverseResponse', () => {
  it('joins text and maps toolUse blocks', () => {
    const out = fromConverseResponse(
      'b',
      'm',
      {
        output: { message: { role: 'assistant', content: [{ text: 'A' }, { toolUse: { toolUseId: 't', name: 'f', input: { k: 'v' } } }] } },
        stopReason: 'tool_use',
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
        metrics: { latencyMs: 1 },
      },
      7,
    );
    expect(out).toMatchObject({ model: 'm', created: 7, choices: [{ message: { content: 'A', tool_calls: [{ id: 't', function: { name: 'f', arguments: '{"k":"v"}' } }] }, finish_reason: 'tool_calls' }] });
  });
});

describe('Method: ConverseStreamTranslator.translate', () => {
  it('turns a full event sequence into role, content, tool, finish and usage chunks', () => {
    const t = new ConverseStreamTranslator('bedrock', 'm', 1);
    const events: ConverseStreamOutput[] = [
      { messageStart: { role: 'assistant' } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hi' } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
      { contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu', name: 'f' } } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"a"' } } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: ':1}' } } } },
      { messageStop: { stopReason: 'tool_use' } },
      { metadata: { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 }, metrics: { latencyMs: 1 } } },
    ];
    const chunks = events.flatMap((e) => t.translate(e));
    expect(chunks.map((c) => (c.choices[0] ? c.choices[0].delta : 'usage'))).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hi' },
      { tool_calls: [{ index: 0, id: 'tu', type: 'function', function: { name: 'f', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
      {},
      'usage',
    ]);
    expect(chunks[5].choices[0].finish_reason).toBe('tool_calls');
    expect(chunks[6]).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(t.complete).toBe(true);
  });

  it('throws an UpstreamError for exception members', () => {
    const t = new ConverseStreamTranslator('bedrock', 'm', 1);
    expect(() => t.translate({ throttlingException: { name: 'ThrottlingException', $fault: 'client', message: 'slow' } as never })).toThrow(
      expect.objectContaining({ upstreamStatus: 429, retryable: true }),
    );
  });
});

describe('Method: bedrockError', () => {
  const sdkError = (name: string, httpStatusCode?: number) => Object.assign(new Error('boom'), { name, $metadata: { httpStatusCode } });

  it.each([
    ['ThrottlingException', 429, true],
    ['ServiceUnavailableException', 503, true],
    ['InternalServerException', 500, true],
    ['ModelNotReadyException', 429, true],
    ['ModelTimeoutException', 408, true],
    ['ValidationException', 400, false],
    ['AccessDeniedException', 403, false],
  ])('maps %s to upstream status %i (retryable %s)', (name, upstreamStatus, retryable) => {
    expect(bedrockError('b', sdkError(name, upstreamStatus), never)).toMatchObject({ upstreamStatus, retryable });
  });

  it('treats errors without an HTTP status as retryable connection errors', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(bedrockError('b', err, never)).toMatchObject({ upstreamStatus: undefined, retryable: true, status: 502 });
  });

  it('returns the abort reason when the call was aborted', () => {
    const c = new AbortController();
    c.abort(new Error('bye'));
    expect(bedrockError('b', new Error('AbortError'), c.signal)).toMatchObject({ code: 'upstream_aborted' });
  });
});

describe('Method: createBedrockAdapter', () => {
  it('initialises the Bedrock SDK on first use, not when the adapter is built (kept off a cold start)', () => {
    jest.isolateModules(() => {
      let loads = 0;
      jest.doMock('@aws-sdk/client-bedrock-runtime', () => {
        loads++;
        return jest.requireActual<object>('@aws-sdk/client-bedrock-runtime');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { createAdapters } = require('../../../lambda/providers/registry') as typeof import('../../../lambda/providers/registry');
      const adapters = createAdapters({
        providers: { bedrock: { kind: 'bedrock', region: 'us-east-1' } },
      } as unknown as Parameters<typeof createAdapters>[0]);
      const adapter = adapters.get('bedrock') as import('../../../lambda/providers/bedrock/adapter').BedrockAdapter;
      adapter.checkChat?.({ request: req(), maxOutputTokens: 100 } as Parameters<NonNullable<typeof adapter.checkChat>>[0]);
      expect(loads).toBe(0);
      const client = adapter.client;
      expect(loads).toBe(1);
      expect(adapter.client).toBe(client);
      client.destroy();
    });
  });
});
