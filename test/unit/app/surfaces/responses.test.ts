/**
 * Golden tests for the Responses surface's translations, each direction: Responses request → chat
 * request, chat completion → Response, chat chunks → Responses stream events. The stream is replayed
 * through openai-node's own accumulator (what `client.responses.stream()` uses), so the events are
 * proven to build the response the final event carries.
 */
import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response as SdkResponse, ResponseStreamEvent as SdkEvent } from 'openai/resources/responses/responses';
import { BadRequestError, GatewayError, UnsupportedParameterError } from '../../../../lambda/core/errors';
import { chatCompletionRequestSchema, type ChatCompletion, type ChatCompletionChunk } from '../../../../lambda/core/openai-schema';
import { chatToResponse, responseShell, type IdSource } from '../../../../lambda/app/surfaces/responses/from-chat';
import { validateResponsesRequest } from '../../../../lambda/app/surfaces/responses/schema';
import { ChatToResponsesStream, errorEventBody, responsesSse } from '../../../../lambda/app/surfaces/responses/stream';
import { responsesToChat } from '../../../../lambda/app/surfaces/responses/to-chat';
import type { ResponsesStreamEvent } from '../../../../lambda/app/surfaces/responses/wire-types';

function counterIds(): IdSource {
  const n = { resp: 0, msg: 0, fc: 0 };
  return (prefix) => `${prefix}_${++n[prefix]}`;
}

const weatherTool = { type: 'function', name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true };

describe('Method: validateResponsesRequest', () => {
  it.each([
    [{ store: true }, 'store'],
    [{ previous_response_id: 'resp_1' }, 'previous_response_id'],
    [{ conversation: 'conv_1' }, 'conversation'],
    [{ background: true }, 'background'],
    [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
  ])('refuses %j with a 400 explaining that Tollgate keeps no state', (extra, param) => {
    const attempt = () => validateResponsesRequest({ model: 'gpt', input: 'hi', ...extra });
    expect(attempt).toThrow(BadRequestError);
    try {
      attempt();
    } catch (err) {
      const e = err as BadRequestError;
      expect(e.toBody().error).toMatchObject({ param, code: 'stateful_responses_not_supported', type: 'invalid_request_error' });
      expect(e.message).toMatch(/keeps no conversation state/);
    }
  });

  it('accepts store: false and what Codex sends (include, prompt_cache_key, reasoning summary)', () => {
    const req = validateResponsesRequest({
      model: 'gpt',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: 'abc',
      reasoning: { effort: 'low', summary: 'auto' },
      tools: [weatherTool],
      tool_choice: 'auto',
      parallel_tool_calls: false,
    });
    expect(req.model).toBe('gpt');
  });

  it.each([
    [{ model: 'gpt' }, 'input', 'missing_required_parameter'],
    [{ model: 'gpt', input: 42 }, 'input', 'invalid_value'],
    [{ model: 'gpt', input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input[0].call_id', 'missing_required_parameter'],
    [{ model: 'gpt', input: [{ role: 'user', content: 5 }] }, 'input[0].content', 'invalid_value'],
    [{ model: 'gpt', input: 'x', max_output_tokens: 0 }, 'max_output_tokens', 'invalid_value'],
    [{ model: 'gpt', input: 'x', tools: [{ type: 'function' }] }, 'tools[0].name', 'missing_required_parameter'],
  ])('answers %j with a 400 naming %s', (body, param, code) => {
    try {
      validateResponsesRequest(body);
      throw new Error('expected a 400');
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).toBody().error).toMatchObject({ param, code });
    }
  });
});

describe('Method: responsesToChat (Responses → chat)', () => {
  it('maps instructions, every input item kind, tools and settings (golden)', () => {
    const req = validateResponsesRequest({
      model: 'gpt',
      instructions: 'Be brief.',
      input: [
        { role: 'developer', content: 'Use metric units.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris and Rome?' }, { type: 'input_image', image_url: 'https://example.com/map.png', detail: 'low' }] },
        { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'opaque' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'call_a', output: '18C' },
        { type: 'function_call_output', call_id: 'call_b', output: [{ type: 'input_text', text: '21C' }] },
      ],
      tools: [weatherTool],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: true,
      max_output_tokens: 300,
      reasoning: { effort: 'low', summary: 'auto' },
      text: { format: { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true } },
      temperature: 0.2,
      safety_identifier: 'user-7',
      metadata: { feature: 'weather' },
      stream: true,
      include: ['reasoning.encrypted_content'],
      store: false,
    });
    const chat = responsesToChat('openai', req, 'gpt-4o-mini');
    expect(chat).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Use metric units.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }, { type: 'image_url', image_url: { url: 'https://example.com/map.png', detail: 'low' } }] },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: '18C' },
        { role: 'tool', tool_call_id: 'call_b', content: '21C' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: weatherTool.parameters, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: true,
      max_completion_tokens: 300,
      reasoning_effort: 'low',
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' }, strict: true } },
      temperature: 0.2,
      user: 'user-7',
      metadata: { feature: 'weather' },
      stream: true,
      stream_options: { include_usage: true },
    });
    // The result is a valid canonical request, as every adapter expects.
    expect(chatCompletionRequestSchema.safeParse(chat).success).toBe(true);
  });

  it('turns a text input into one user message and a function call without text into content null', () => {
    const chat = responsesToChat('p', validateResponsesRequest({ model: 'm', input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'ok' }] }));
    expect(chat.messages).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c', content: 'ok' },
    ]);
    expect(responsesToChat('p', validateResponsesRequest({ model: 'm', input: 'hi' })).messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it.each([
    [{ tools: [weatherTool, { type: 'web_search' }] }, 'tools[1].type'],
    [{ tool_choice: { type: 'web_search' } }, 'tool_choice'],
    [{ input: [{ type: 'local_shell_call', call_id: 'x' }] }, 'input[0].type'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] }, 'input[0].content[0]'],
    [{ truncation: 'auto' }, 'truncation'],
    [{ reasoning: { effort: 'xhigh' } }, 'reasoning.effort'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
  ])('refuses what a chat target cannot honour, naming it (%j → %s), so the router can try another target', (extra, param) => {
    const req = validateResponsesRequest({ model: 'm', input: 'hi', ...extra });
    try {
      responsesToChat('anthropic', req);
      throw new Error('expected UnsupportedParameterError');
    } catch (err) {
      expect(err).toBeInstanceOf(UnsupportedParameterError);
      expect((err as UnsupportedParameterError).param).toBe(param);
    }
  });
});

const usage = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 12 } };

describe('Method: chatToResponse (chat → Response)', () => {
  it('builds the Response with a message, function calls and usage incl. cached and reasoning tokens (golden)', () => {
    const req = validateResponsesRequest({ model: 'gpt', input: 'hi', instructions: 'Be brief.', tools: [weatherTool], max_output_tokens: 50 });
    const completion: ChatCompletion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          finish_reason: 'tool_calls',
        },
      ],
      usage,
    };
    const response = chatToResponse(req, completion, 1_700_000_000, counterIds());
    expect(response).toEqual({
      id: 'resp_1',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: 50,
      model: 'gpt-4o-mini',
      output: [
        { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Let me check.', annotations: [], logprobs: [] }] },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' },
      ],
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: false,
      temperature: null,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [weatherTool],
      top_p: null,
      truncation: 'disabled',
      usage: {
        input_tokens: 120,
        input_tokens_details: { cached_tokens: 100, cache_write_tokens: 0 },
        output_tokens: 30,
        output_tokens_details: { reasoning_tokens: 12 },
        total_tokens: 150,
      },
      user: null,
      metadata: {},
    });
  });

  it('marks a cut-off answer incomplete with reason max_output_tokens', () => {
    const req = validateResponsesRequest({ model: 'gpt', input: 'hi' });
    const completion: ChatCompletion = { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Once upon' }, finish_reason: 'length' }] };
    const response = chatToResponse(req, completion, 1, counterIds());
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.usage).toBeNull();
  });
});

function chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null): ChatCompletionChunk {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] };
}

function replay(events: ResponsesStreamEvent[]): SdkResponse {
  let snapshot: SdkResponse | undefined;
  for (const e of events) snapshot = accumulateResponse(e as unknown as SdkEvent, snapshot);
  return snapshot!;
}

describe('Class: ChatToResponsesStream (chat chunks → Responses events)', () => {
  const req = validateResponsesRequest({ model: 'gpt', input: 'weather?', tools: [weatherTool], stream: true });

  it('streams text then two function calls with argument deltas, and completes with usage incl. cached tokens (golden)', () => {
    const builder = new ChatToResponsesStream(responseShell(req, 'resp_1', 1_700_000_000, 'gpt'), counterIds());
    const events = [
      ...builder.start(),
      ...[
        chunk({ role: 'assistant', content: '' }),
        chunk({ content: 'Checking' }),
        chunk({ content: ' both.' }),
        chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] }),
        chunk({}, 'tool_calls'),
        { ...chunk({}), choices: [], usage },
      ].flatMap((c) => builder.chunk(c)),
      ...builder.end(),
    ];
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2]).toEqual({ type: 'response.output_item.added', sequence_number: 2, output_index: 0, item: { type: 'message', id: 'msg_1', role: 'assistant', status: 'in_progress', content: [] } });
    expect(events[4]).toEqual({ type: 'response.output_text.delta', sequence_number: 4, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Checking', logprobs: [] });
    expect(events[9]).toEqual({
      type: 'response.output_item.added',
      sequence_number: 9,
      output_index: 1,
      item: { type: 'function_call', id: 'fc_1', call_id: 'call_a', name: 'get_weather', arguments: '', status: 'in_progress' },
    });
    expect(events[11]).toEqual({ type: 'response.function_call_arguments.delta', sequence_number: 11, item_id: 'fc_1', output_index: 1, delta: '"Paris"}' });
    expect(events[14]).toEqual({ type: 'response.function_call_arguments.done', sequence_number: 14, item_id: 'fc_1', output_index: 1, name: 'get_weather', arguments: '{"city":"Paris"}' });
    const completed = events[events.length - 1] as Extract<ResponsesStreamEvent, { response: unknown }>;
    expect(completed.response.status).toBe('completed');
    expect(completed.response.usage).toEqual({
      input_tokens: 120,
      input_tokens_details: { cached_tokens: 100, cache_write_tokens: 0 },
      output_tokens: 30,
      output_tokens_details: { reasoning_tokens: 12 },
      total_tokens: 150,
    });
    expect(completed.response.output).toEqual([
      { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Checking both.', annotations: [], logprobs: [] }] },
      { type: 'function_call', id: 'fc_1', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' },
      { type: 'function_call', id: 'fc_2', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}', status: 'completed' },
    ]);
    // openai-node's accumulator (responses.stream()) builds exactly the output the final event carries.
    const snapshot = replay(events.slice(0, -1));
    expect(snapshot.output).toEqual(completed.response.output);
    expect(snapshot.output_text).toBe('Checking both.');
    expect(builder.usage?.cacheReadTokens).toBe(100);
    // With a price known, the final usage carries the request's cost (USD).
    const priced = new ChatToResponsesStream(responseShell(req, 'resp_2', 1, 'gpt'), counterIds());
    priced.chunk({ ...chunk({}), choices: [], usage });
    const [done] = priced.end((u) => u.inputTokens / 1e6);
    expect((done as Extract<ResponsesStreamEvent, { response: unknown }>).response.usage?.cost).toBe(120 / 1e6);
  });

  it('ends a length-cut stream with response.incomplete', () => {
    const builder = new ChatToResponsesStream(responseShell(req, 'resp_1', 1, 'gpt'), counterIds());
    const events = [...builder.start(), ...builder.chunk(chunk({ content: 'Once' })), ...builder.chunk(chunk({}, 'length')), ...builder.end()];
    const last = events[events.length - 1];
    expect(last.type).toBe('response.incomplete');
    expect((last as Extract<ResponsesStreamEvent, { response: unknown }>).response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(replay(events).output_text).toBe('Once');
  });

  it('reports a failure as an error event carrying `error` (openai-node throws on it), framed as OpenAI frames events', () => {
    const event = errorEventBody(new GatewayError(502, 'upstream_error', 'Provider broke.', { code: 'upstream_unavailable' }));
    expect(new TextDecoder().decode(responsesSse([event]))).toBe(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
    expect(event).toEqual({
      type: 'error',
      code: 'upstream_unavailable',
      message: 'Provider broke.',
      param: null,
      error: { type: 'upstream_error', code: 'upstream_unavailable', message: 'Provider broke.', param: null },
    });
  });
});
