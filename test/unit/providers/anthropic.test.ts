import { BadRequestError, UnsupportedParameterError, UpstreamError } from '../../../lambda/core/errors';
import type { ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { anthropicUsage, finishReason, fromAnthropicResponse, toAnthropicRequest } from '../../../lambda/providers/anthropic/chat-complete';
import { AnthropicStreamTranslator } from '../../../lambda/providers/anthropic/stream';
import type { AnthropicStreamEvent } from '../../../lambda/providers/anthropic/wire-types';

const req = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'claude',
  messages: [{ role: 'user', content: 'hi' }],
  ...over,
});

describe('Method: toAnthropicRequest', () => {
  it('hoists system and developer messages and maps a tool round trip with merged tool results', () => {
    const out = toAnthropicRequest(
      'anthropic',
      req({
        messages: [
          { role: 'system', content: 'Sys' },
          { role: 'developer', content: [{ type: 'text', text: 'Dev' }] },
          { role: 'user', content: 'Weather in Oslo and Rome?' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'wx', arguments: '{"city":"Oslo"}' } },
              { id: 't2', type: 'function', function: { name: 'wx', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: '5C' },
          { role: 'tool', tool_call_id: 't2', content: [{ type: 'text', text: '20C' }] },
          { role: 'user', content: 'Thanks' },
        ],
      }),
      { stream: false, maxOutputTokens: 1_024 },
    );
    expect(out.system).toEqual([
      { type: 'text', text: 'Sys' },
      { type: 'text', text: 'Dev' },
    ]);
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Oslo and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 't1', name: 'wx', input: { city: 'Oslo' } },
          { type: 'tool_use', id: 't2', name: 'wx', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: '5C' },
          { type: 'tool_result', tool_use_id: 't2', content: '20C' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('maps sampling fields, stop and user', () => {
    const out = toAnthropicRequest('anthropic', req({ temperature: 0.2, top_p: 0.9, stop: 'END', user: 'u1', max_completion_tokens: 99 }), { stream: true, maxOutputTokens: 99 });
    expect(out).toMatchObject({ temperature: 0.2, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u1' }, max_tokens: 99, stream: true });
  });

  it('always sends the effective cap it is given as max_tokens, whatever the client asked for', () => {
    // The cap is computed once (core/output-cap.ts) and reserved for; the adapter must not re-derive it.
    expect(toAnthropicRequest('a', req({ max_tokens: 50_000 }), { stream: false, maxOutputTokens: 500 }).max_tokens).toBe(500);
    expect(toAnthropicRequest('a', req(), { stream: false, maxOutputTokens: 500 }).max_tokens).toBe(500);
  });

  it('maps tools and every tool_choice form', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }];
    const choice = (tool_choice: ChatCompletionRequest['tool_choice'], parallel?: boolean) =>
      toAnthropicRequest('a', req({ tools, tool_choice, parallel_tool_calls: parallel }), { stream: false, maxOutputTokens: 1_024 }).tool_choice;
    expect(toAnthropicRequest('a', req({ tools }), { stream: false, maxOutputTokens: 1_024 }).tools).toEqual([
      { name: 'f', description: 'd', input_schema: { type: 'object', properties: { a: { type: 'string' } } } },
    ]);
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice({ type: 'function', function: { name: 'f' } })).toEqual({ type: 'tool', name: 'f' });
    expect(choice(undefined, false)).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice(undefined)).toBeUndefined();
  });

  it.each([
    ['n', { n: 2 }],
    ['response_format', { response_format: { type: 'json_object' as const } }],
    ['logprobs', { logprobs: true }],
    ['top_logprobs', { top_logprobs: 2 }],
    ['seed', { seed: 1 }],
    ['presence_penalty', { presence_penalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: 0.5 }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['temperature', { temperature: 1.5 }],
  ])('throws UnsupportedParameterError with param %s', (param, over) => {
    expect(() => toAnthropicRequest('anthropic', req(over), { stream: false, maxOutputTokens: 1_024 })).toThrow(expect.objectContaining({ param, status: 400 }));
    expect(() => toAnthropicRequest('anthropic', req(over), { stream: false, maxOutputTokens: 1_024 })).toThrow(UnsupportedParameterError);
  });

  it('maps reasoning_effort to an extended-thinking budget that fits below the cap, and refuses one that does not', () => {
    expect(toAnthropicRequest('a', req({ reasoning_effort: 'medium' }), { stream: false, maxOutputTokens: 4_000 }).thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(toAnthropicRequest('a', req({ reasoning_effort: 'low' }), { stream: false, maxOutputTokens: 4_000 }).thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(toAnthropicRequest('a', req(), { stream: false, maxOutputTokens: 4_000 }).thinking).toBeUndefined();
    // high = 4,096 thinking tokens, not below a 4,000-token cap.
    expect(() => toAnthropicRequest('a', req({ reasoning_effort: 'high' }), { stream: false, maxOutputTokens: 4_000 })).toThrow(expect.objectContaining({ param: 'reasoning_effort', code: 'unsupported_parameter' }));
  });

  it('sends an assistant turn\'s thinking blocks back first, as signed', () => {
    const history = req({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'redacted_thinking', data: 'cg==' }] },
        { role: 'user', content: 'again' },
      ],
    });
    expect(toAnthropicRequest('a', history, { stream: false, maxOutputTokens: 100 }).messages[1].content).toEqual([
      { type: 'thinking', thinking: 't', signature: 's' },
      { type: 'redacted_thinking', data: 'cg==' },
      { type: 'text', text: 'a' },
    ]);
  });

  it('accepts neutral values of fields it does not support (n=1, zero penalties, text format)', () => {
    expect(() => toAnthropicRequest('a', req({ n: 1, presence_penalty: 0, response_format: { type: 'text' }, logprobs: false }), { stream: false, maxOutputTokens: 1_024 })).not.toThrow();
  });

  it('throws a BadRequestError naming the arguments when a tool call is not JSON', () => {
    const bad = req({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] });
    expect(() => toAnthropicRequest('a', bad, { stream: false, maxOutputTokens: 1_024 })).toThrow(expect.objectContaining({ param: 'messages[0].tool_calls[0].function.arguments' }));
  });

  it('rejects image types Anthropic cannot read and URLs that are neither http nor data', () => {
    const image = (url: string) => req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    expect(() => toAnthropicRequest('a', image('data:image/bmp;base64,AAAA'), { stream: false, maxOutputTokens: 1_024 })).toThrow(UnsupportedParameterError);
    expect(() => toAnthropicRequest('a', image('ftp://x/y.png'), { stream: false, maxOutputTokens: 1_024 })).toThrow(BadRequestError);
    expect(toAnthropicRequest('a', image('data:image/jpg;base64,AAAA'), { stream: false, maxOutputTokens: 1_024 }).messages[0].content[0]).toEqual({
      type: 'image',
      source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' },
    });
  });
});

describe('Method: finishReason', () => {
  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    [null, 'stop'],
  ])('maps %s to %s', (reason, expected) => {
    expect(finishReason(reason)).toBe(expected);
  });
});

describe('Method: anthropicUsage', () => {
  it('counts cache reads and writes inside prompt_tokens', () => {
    expect(anthropicUsage({ input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 })).toEqual({
      prompt_tokens: 160,
      completion_tokens: 4,
      total_tokens: 164,
      prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 50 },
    });
  });
});

describe('Method: fromAnthropicResponse', () => {
  it('joins text blocks, keeps thinking as reasoning_content and thinking_blocks, and maps tool_use', () => {
    const out = fromAnthropicResponse(
      'a',
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 's' },
          { type: 'text', text: 'A' },
          { type: 'text', text: 'B' },
          { type: 'tool_use', id: 't', name: 'f', input: { x: 1 } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 1, output_tokens: 2 },
      },
      123,
    );
    expect(out).toMatchObject({
      id: 'msg_1',
      created: 123,
      choices: [
        {
          message: { content: 'AB', tool_calls: [{ id: 't', function: { name: 'f', arguments: '{"x":1}' } }], reasoning_content: 'hmm', thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 's' }] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2 },
    });
  });

  it('throws a malformed-response UpstreamError for a body without content', () => {
    expect(() => fromAnthropicResponse('a', { id: 'x' }, 1)).toThrow(UpstreamError);
  });
});

describe('Method: AnthropicStreamTranslator.translate', () => {
  const run = (events: AnthropicStreamEvent[]) => {
    const t = new AnthropicStreamTranslator('anthropic', 1000, 'claude');
    return { chunks: events.flatMap((e) => t.translate(e)), t };
  };
  const start: AnthropicStreamEvent = {
    type: 'message_start',
    message: {
      id: 'msg_s',
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [],
      stop_reason: null,
      usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 },
    },
  };

  it('replaces usage with the cumulative message_delta counts instead of adding them', () => {
    const { chunks, t } = run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 42 } },
      { type: 'message_stop' },
    ]);
    expect(t.complete).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? 'usage')).toEqual([{ role: 'assistant', content: '' }, { content: 'Hi' }, {}, 'usage']);
    expect(chunks[2].choices[0].finish_reason).toBe('length');
    expect(chunks[3]).toMatchObject({ id: 'msg_s', model: 'claude-x', choices: [] });
    expect(chunks[3].usage).toEqual({ prompt_tokens: 15, completion_tokens: 42, total_tokens: 57, prompt_tokens_details: { cached_tokens: 5 } });
  });

  it('numbers tool calls among themselves and streams their argument pieces', () => {
    const { chunks } = run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'tu1', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'tu2', name: 'g', input: {} } },
    ]);
    expect(chunks.slice(1).map((c) => c.choices[0].delta.tool_calls)).toEqual([
      [{ index: 0, id: 'tu1', type: 'function', function: { name: 'f', arguments: '' } }],
      [{ index: 0, function: { arguments: '{"a":' } }],
      [{ index: 0, function: { arguments: '1}' } }],
      [{ index: 1, id: 'tu2', type: 'function', function: { name: 'g', arguments: '' } }],
    ]);
  });

  it('ignores ping; streams thinking as reasoning_content, its signature and redacted blocks as thinking_blocks', () => {
    const { chunks } = run([
      start,
      { type: 'ping' },
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'x' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'cg==' } },
    ]);
    expect(chunks.slice(1).map((c) => c.choices[0].delta)).toEqual([
      { reasoning_content: 'x' },
      { thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'sig' }] },
      { thinking_blocks: [{ type: 'redacted_thinking', data: 'cg==' }] },
    ]);
  });

  it('throws an UpstreamError with the status the error type stands for', () => {
    const t = new AnthropicStreamTranslator('anthropic', 1);
    expect(() => t.translate({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).toThrow(
      expect.objectContaining({ upstreamStatus: 529, retryable: true }),
    );
    expect(() => t.translate({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } })).toThrow(
      expect.objectContaining({ upstreamStatus: 400, retryable: false }),
    );
  });

  it('throws a malformed-response UpstreamError for data that is not JSON', () => {
    expect(() => new AnthropicStreamTranslator('a', 1).translateData('{"type":')).toThrow(expect.objectContaining({ code: 'upstream_malformed_response' }));
  });
});
