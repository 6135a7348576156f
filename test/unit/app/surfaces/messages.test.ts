/** Golden translations for the Messages surface: Messages → chat, chat (stream) → Messages, cache_control → Anthropic / Converse / OpenAI. */
import { ChatToMessagesStream, fromChatCompletion } from '../../../../lambda/app/surfaces/messages/from-chat';
import { messagesRequestSchema } from '../../../../lambda/app/surfaces/messages/schema';
import { toChatRequest } from '../../../../lambda/app/surfaces/messages/to-chat';
import { UnsupportedParameterError } from '../../../../lambda/core/errors';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../../../lambda/core/openai-schema';
import { toAnthropicRequest } from '../../../../lambda/providers/anthropic/chat-complete';
import { toConverseInput } from '../../../../lambda/providers/bedrock/converse';
import { toUpstreamBody } from '../../../../lambda/providers/openai-compatible/chat-complete';

const cache = { type: 'ephemeral' as const };

describe('Messages → chat', () => {
  it('maps system with cache_control, tool use / tool results and tool choice', () => {
    const req = messagesRequestSchema().parse({
      model: 'alias',
      max_tokens: 100,
      system: [{ type: 'text', text: 'sys', cache_control: cache }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }, { type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 't1', name: 'w', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'sunny', cache_control: cache }] },
      ],
      tools: [{ name: 'w', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stop_sequences: ['X'],
      metadata: { user_id: 'u1' },
    });
    expect(toChatRequest('p', req, 'up')).toEqual({
      model: 'up',
      max_tokens: 100,
      stop: ['X'],
      user: 'u1',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'sys', cache_control: cache }] },
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: 'Let me look.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'w', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 't1', content: [{ type: 'text', text: 'sunny', cache_control: cache }] },
      ],
      tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
  });

  it('refuses what chat cannot carry (so the router can fall back to an Anthropic target)', () => {
    const base = { model: 'a', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    expect(() => toChatRequest('p', messagesRequestSchema().parse({ ...base, top_k: 5 }), 'up')).toThrow(UnsupportedParameterError);
    expect(() => toChatRequest('p', messagesRequestSchema().parse({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } }), 'up')).toThrow(UnsupportedParameterError);
    expect(() => toChatRequest('p', messagesRequestSchema().parse({ ...base, container: 'c' }), 'up')).toThrow(UnsupportedParameterError);
  });
});

describe('chat → Messages', () => {
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null): ChatCompletionChunk => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });

  it('turns streamed text and tool calls into Anthropic events, usage (with cache tokens and cost) in message_delta', () => {
    const t = new ChatToMessagesStream('m', () => 0.5);
    const frames = [
      t.frame(chunk({ role: 'assistant', content: 'Hi' })),
      t.frame(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'w', arguments: '' } }] })),
      t.frame(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] })),
      t.frame(chunk({}, 'tool_calls')),
      t.frame({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107, prompt_tokens_details: { cached_tokens: 60, cache_write_tokens: 30 } } }),
      t.end(),
    ];
    const events = frames.flatMap((f) => (f.bytes ? Buffer.from(f.bytes).toString('utf8').split('\n\n').filter(Boolean) : [])).map((e) => JSON.parse(e.split('\ndata: ')[1]) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events[4]).toMatchObject({ index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'w' } });
    expect(events[5]).toMatchObject({ index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } });
    expect(events[7]).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 10, output_tokens: 7, cache_read_input_tokens: 60, cache_creation_input_tokens: 30, cost: 0.5 } });
    expect(frames.at(-1)?.final).toBe(true);
  });

  it('maps a completion to a message', () => {
    const msg = fromChatCompletion(
      { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } },
      'm',
      0.25,
    );
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'w', input: { a: 1 } }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 2, cost: 0.25 } });
  });
});

describe('cache_control through chat', () => {
  const req: ChatCompletionRequest = {
    model: 'm',
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'long system', cache_control: cache }] },
      { role: 'user', content: [{ type: 'text', text: 'doc', cache_control: cache }, { type: 'text', text: 'question' }] },
    ],
  };

  it('reaches Anthropic as cache_control on the block', () => {
    const out = toAnthropicRequest('a', req, { stream: false, maxOutputTokens: 100 });
    expect(out.system).toEqual([{ type: 'text', text: 'long system', cache_control: cache }]);
    expect(out.messages[0].content).toEqual([{ type: 'text', text: 'doc', cache_control: cache }, { type: 'text', text: 'question' }]);
  });

  it('reaches Converse as a cache point after the block', () => {
    const out = toConverseInput('b', req, 100);
    expect(out.system).toEqual([{ text: 'long system' }, { cachePoint: { type: 'default' } }]);
    expect(out.messages[0].content).toEqual([{ text: 'doc' }, { cachePoint: { type: 'default' } }, { text: 'question' }]);
  });

  it('never reaches an OpenAI-compatible host', () => {
    const body = toUpstreamBody(req, false, { field: 'max_tokens', tokens: 100 });
    expect(JSON.stringify(body)).not.toContain('cache_control');
  });
});
