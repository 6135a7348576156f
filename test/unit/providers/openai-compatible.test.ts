import { UpstreamError } from '../../../lambda/core/errors';
import type { ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { chatCompletionsUrl, maxTokensField, requestHeaders, sendsStreamOptions } from '../../../lambda/providers/openai-compatible/api';
import { UsageCollector, normaliseUsage, parseChunk, parseCompletion, toUpstreamBody } from '../../../lambda/providers/openai-compatible/chat-complete';

const chunk = (over: Partial<ChatCompletionChunk>): ChatCompletionChunk => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }],
  ...over,
});

describe('Method: chatCompletionsUrl', () => {
  it('joins the base URL and path whether or not the base ends with a slash', () => {
    expect(chatCompletionsUrl({ baseUrl: 'https://api.mistral.ai/v1/' })).toBe('https://api.mistral.ai/v1/chat/completions');
    expect(chatCompletionsUrl({ baseUrl: 'http://localhost:11434/v1' })).toBe('http://localhost:11434/v1/chat/completions');
  });
});

describe('Method: requestHeaders', () => {
  it('adds a bearer token only when there is a key', () => {
    expect(requestHeaders({ baseUrl: 'x', headers: { 'x-org': 'o' } }, 'k', true)).toEqual({ 'x-org': 'o', accept: 'text/event-stream', authorization: 'Bearer k' });
    expect(requestHeaders({ baseUrl: 'x' }, undefined, false)).toEqual({ accept: 'application/json' });
  });
});

describe('Method: sendsStreamOptions', () => {
  it('is on by default, off for Mistral (which rejects the field), and overridable', () => {
    expect(sendsStreamOptions({ baseUrl: 'https://api.openai.com/v1' })).toBe(true);
    expect(sendsStreamOptions({ baseUrl: 'https://api.mistral.ai/v1' })).toBe(false);
    expect(sendsStreamOptions({ baseUrl: 'https://api.mistral.ai/v1', streamOptions: true })).toBe(true);
    expect(sendsStreamOptions({ baseUrl: 'http://localhost:8000/v1', streamOptions: false })).toBe(false);
  });
});

describe('Method: maxTokensField', () => {
  it("uses the client's spelling, max_completion_tokens when it sent both, else the host's default", () => {
    const openai = { baseUrl: 'https://api.openai.com/v1' };
    const other = { baseUrl: 'https://api.deepseek.com/v1' };
    expect(maxTokensField(other, { max_completion_tokens: 5 })).toBe('max_completion_tokens');
    expect(maxTokensField(openai, { max_tokens: 5 })).toBe('max_tokens');
    expect(maxTokensField(other, { max_tokens: 5, max_completion_tokens: 9 })).toBe('max_completion_tokens');
    // OpenAI's reasoning models refuse max_tokens; other hosts may not know max_completion_tokens.
    expect(maxTokensField(openai, {})).toBe('max_completion_tokens');
    expect(maxTokensField(other, {})).toBe('max_tokens');
    expect(maxTokensField({ ...other, maxTokensField: 'max_completion_tokens' }, { max_tokens: 5 })).toBe('max_completion_tokens');
  });
});

describe('Method: toUpstreamBody', () => {
  const base = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }] };
  const cap = { field: 'max_tokens' as const, tokens: 100 };

  it('forces include_usage on streams and keeps the client stream options', () => {
    const body = toUpstreamBody({ ...base, stream: true, stream_options: { include_usage: false } }, true, cap);
    expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('omits stream_options entirely for hosts that reject it', () => {
    const body = toUpstreamBody({ ...base, stream: true, stream_options: { include_usage: true } }, true, cap, false);
    expect(body).toEqual({ ...base, stream: true, max_tokens: 100 });
  });

  it('strips thinking blocks from an assistant turn without content and adds no content key (found by fuzzing)', () => {
    const body = toUpstreamBody({ ...base, messages: [...base.messages, { role: 'assistant', thinking_blocks: [{ type: 'redacted_thinking', data: 'x' }] }] }, false, cap);
    expect(body.messages).toStrictEqual([...base.messages, { role: 'assistant' }]);
  });

  it('drops metadata and nulls, keeps user and provider-specific fields', () => {
    const body = toUpstreamBody({ ...base, metadata: { team: 'a' }, user: 'u', seed: 3, temperature: null, stream_options: null }, false, cap);
    expect(body).toEqual({ ...base, user: 'u', seed: 3, stream: false, max_tokens: 100 });
  });

  it("strips Anthropic's fields (cache_control on parts and tools, assistant thinking blocks) and keeps the rest", () => {
    const body = toUpstreamBody(
      {
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'q', cache_control: { type: 'ephemeral' } }] },
          { role: 'assistant', content: 'a', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }] },
          { role: 'user', content: 'again' },
        ],
        tools: [{ type: 'function', function: { name: 'f' }, cache_control: { type: 'ephemeral' } }],
      },
      false,
      cap,
    );
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'q' }] },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'again' },
    ]);
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'f' } }]);
  });

  it('always sends the effective cap in exactly one field, replacing whatever the client sent', () => {
    const both = toUpstreamBody({ ...base, max_tokens: 50_000, max_completion_tokens: 1 }, false, { field: 'max_completion_tokens', tokens: 1 });
    expect(both).toEqual({ ...base, stream: false, max_completion_tokens: 1 });
    expect(toUpstreamBody(base, false, { field: 'max_tokens', tokens: 16_384 })).toEqual({ ...base, stream: false, max_tokens: 16_384 });
  });
});

describe('Method: parseChunk', () => {
  it('parses a chunk', () => {
    expect(parseChunk('p', JSON.stringify(chunk({})))).toEqual(chunk({}));
  });

  it('throws a malformed-response UpstreamError on invalid JSON', () => {
    expect(() => parseChunk('p', '{"id":')).toThrow(expect.objectContaining({ code: 'upstream_malformed_response' }));
  });

  it('throws an UpstreamError on an in-band error object', () => {
    expect(() => parseChunk('p', '{"error":{"message":"boom"}}')).toThrow(UpstreamError);
  });

  it('throws when the chunk has no choices array', () => {
    expect(() => parseChunk('p', '{"id":"x"}')).toThrow(expect.objectContaining({ code: 'upstream_malformed_response' }));
  });
});

describe('Method: parseCompletion', () => {
  it('throws on a body that is not a completion', () => {
    expect(() => parseCompletion('p', { object: 'list' })).toThrow(UpstreamError);
  });
});

describe('Method: normaliseUsage', () => {
  it('folds DeepSeek cache hits into cached_tokens', () => {
    expect(normaliseUsage({ prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_cache_hit_tokens: 60, prompt_cache_miss_tokens: 40 })).toMatchObject({
      prompt_tokens: 100,
      prompt_tokens_details: { cached_tokens: 60 },
    });
  });

  it('fills total_tokens when a host omits it', () => {
    expect(normaliseUsage({ prompt_tokens: 3, completion_tokens: 4 })).toMatchObject({ total_tokens: 7 });
  });

  it('returns undefined for something that is not usage', () => {
    expect(normaliseUsage({ foo: 1 })).toBeUndefined();
  });
});

describe('Method: UsageCollector', () => {
  const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };

  it('holds back a usage-only chunk and emits it at the end', () => {
    const c = new UsageCollector();
    expect(c.take(chunk({ choices: [], usage }))).toBeUndefined();
    expect(c.final('asked-model')).toMatchObject({ choices: [], usage });
  });

  it('splits usage off a content chunk (Gemini/Mistral style) into the final chunk', () => {
    const c = new UsageCollector();
    const passed = c.take(chunk({ usage }));
    expect(passed?.usage).toBeUndefined();
    expect(passed?.choices).toHaveLength(1);
    expect(c.final('asked-model')?.usage).toEqual(usage);
  });

  it('gives the final chunk a well-formed envelope when the host’s chunks lack id, created or model (found by the adapter fuzz)', () => {
    const c = new UsageCollector();
    c.take({ choices: [], usage } as unknown as ChatCompletionChunk);
    const final = c.final('asked-model');
    expect(final).toMatchObject({ object: 'chat.completion.chunk', model: 'asked-model', choices: [], usage });
    expect(final?.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(Number.isSafeInteger(final?.created)).toBe(true);
    expect(Object.values(final ?? {}).includes(undefined)).toBe(false);
  });

  it('emits nothing at the end when the upstream reported no usage', () => {
    const c = new UsageCollector();
    c.take(chunk({}));
    expect(c.final('asked-model')).toBeUndefined();
  });
});
