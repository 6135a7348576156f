import { BadRequestError, UpstreamError } from '../../../lambda/core/errors';
import { createAnthropicAdapter } from '../../../lambda/providers/anthropic/adapter';
import type { ProviderAdapter } from '../../../lambda/providers/types';
import { startAnthropicDouble, type UpstreamDouble } from '../../doubles/anthropic-double';
import { call, collect, rejection, streamedText, streamedToolCalls } from './collect';

describe('Adapter: anthropic against the Anthropic double', () => {
  let double: UpstreamDouble;
  let adapter: ProviderAdapter;

  beforeEach(async () => {
    double = await startAnthropicDouble();
    adapter = createAnthropicAdapter('anthropic', { baseUrl: double.url, version: '2023-06-01' });
  });

  afterEach(async () => {
    await double.close();
  });

  describe('Method: chat', () => {
    it('maps the request, sends the key and version, and maps the answer with cache-aware usage', async () => {
      double.setScript({ kind: 'ok', text: 'Bonjour', usage: { promptTokens: 100, completionTokens: 7, cachedTokens: 60, cacheWriteTokens: 30 } });
      const result = await adapter.chat(
        call(
          { model: 'claude-sonnet-4-5', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello in French' }], user: 'u-9' },
          { apiKey: 'sk-ant-test', maxOutputTokens: 2048 },
        ),
      );

      expect(result.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Bonjour' }, finish_reason: 'stop' });
      expect(result.usage).toEqual({
        prompt_tokens: 100,
        completion_tokens: 7,
        total_tokens: 107,
        prompt_tokens_details: { cached_tokens: 60, cache_write_tokens: 30 },
      });
      const [req] = double.requests;
      expect(req.path).toBe('/v1/messages');
      expect(req.headers['x-api-key']).toBe('sk-ant-test');
      expect(req.headers['anthropic-version']).toBe('2023-06-01');
      expect(req.body).toEqual({
        model: 'claude-sonnet-4-5',
        system: [{ type: 'text', text: 'Be brief.' }],
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello in French' }] }],
        max_tokens: 2048,
        metadata: { user_id: 'u-9' },
      });
    });

    it('maps tool_use blocks to tool_calls with finish_reason tool_calls', async () => {
      double.setScript({ kind: 'ok', toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] });
      const result = await adapter.chat(call({ model: 'claude', tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] }));
      expect(result.choices[0]).toMatchObject({
        message: { content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        finish_reason: 'tool_calls',
      });
    });

    it('sends data-URL images as base64 sources and http images as url sources', async () => {
      await adapter.chat(
        call({
          model: 'claude',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
                { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
                { type: 'text', text: 'Compare' },
              ],
            },
          ],
        }),
      );
      expect((double.requests[0].body as { messages: Array<{ content: unknown }> }).messages[0].content).toEqual([
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        { type: 'text', text: 'Compare' },
      ]);
    });

    it('throws a BadRequestError naming the field and makes no request when a field cannot be honoured', async () => {
      const err = await rejection(adapter.chat(call({ model: 'claude', seed: 42 })));
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err).toMatchObject({ status: 400, param: 'seed' });
      expect(double.requests).toHaveLength(0);
    });

    it.each([500, 529, 429])('throws a retryable UpstreamError carrying status %i', async (status) => {
      double.setScript({ kind: 'status', status, message: 'try later' });
      const err = await rejection(adapter.chat(call({ model: 'claude' }, { apiKey: 'k' })));
      expect(err).toMatchObject({ upstreamStatus: status, retryable: true });
      expect((err as UpstreamError).detail).toContain('try later');
      expect((err as Error).message).not.toContain('try later');
    });

    it('throws a non-retryable UpstreamError on 400', async () => {
      double.setScript({ kind: 'status', status: 400, message: 'messages: roles must alternate' });
      const err = await rejection(adapter.chat(call({ model: 'claude' })));
      expect(err).toMatchObject({ upstreamStatus: 400, retryable: false, status: 400 });
    });

    it('aborts the upstream request when the signal fires while the upstream hangs', async () => {
      double.setScript({ kind: 'hang' });
      const controller = new AbortController();
      const pending = adapter.chat(call({ model: 'claude' }, { signal: controller.signal }));
      await double.waitForRequests(1);
      controller.abort();
      expect(await rejection(pending)).toBeInstanceOf(UpstreamError);
      await double.waitForAbort(0);
    });
  });

  describe('Method: chatStream', () => {
    it('streams text and ends with one usage chunk built from cumulative usage', async () => {
      double.setScript({ kind: 'ok', text: 'one two three', usage: { promptTokens: 50, completionTokens: 9, cachedTokens: 20, cacheWriteTokens: 10 } });
      const chunks = await collect(adapter.chatStream(call({ model: 'claude', stream: true })));

      expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(chunks[0].id).toBe('msg_double');
      expect(streamedText(chunks)).toBe('one two three');
      expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toEqual({
        prompt_tokens: 50,
        completion_tokens: 9,
        total_tokens: 59,
        prompt_tokens_details: { cached_tokens: 20, cache_write_tokens: 10 },
      });
      expect(double.requests[0].body).toMatchObject({ stream: true, max_tokens: 4096 });
    });

    it('streams tool_use blocks as OpenAI tool-call deltas', async () => {
      double.setScript({
        kind: 'ok',
        text: 'Let me check.',
        toolCalls: [
          { id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Lima"}' },
          { id: 'toolu_b', name: 'get_time', arguments: '{"tz":"PET"}' },
        ],
      });
      const chunks = await collect(adapter.chatStream(call({ model: 'claude', stream: true })));
      expect(streamedText(chunks)).toBe('Let me check.');
      expect(streamedToolCalls(chunks)).toEqual([
        { id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Lima"}' },
        { id: 'toolu_b', name: 'get_time', arguments: '{"tz":"PET"}' },
      ]);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
    });

    it('rejects the first next() with a retryable UpstreamError on 529', async () => {
      double.setScript({ kind: 'status', status: 529 });
      const err = await rejection(adapter.chatStream(call({ model: 'claude', stream: true }))[Symbol.asyncIterator]().next());
      expect(err).toMatchObject({ upstreamStatus: 529, retryable: true });
    });

    it('throws an UpstreamError from the iterator on an error event', async () => {
      double.setScript({ kind: 'streamError', afterChunks: 1, message: 'Overloaded' });
      const err = await rejection(collect(adapter.chatStream(call({ model: 'claude', stream: true }))));
      expect(err).toMatchObject({ upstreamStatus: 529, retryable: true });
      expect((err as UpstreamError).detail).toContain('Overloaded');
      expect((err as Error).message).not.toContain('Overloaded');
    });

    it('throws from the iterator when the connection drops mid-stream', async () => {
      double.setScript({ kind: 'dropMidStream', afterChunks: 2 });
      const err = await rejection(collect(adapter.chatStream(call({ model: 'claude', stream: true }))));
      expect(err).toMatchObject({ retryable: true, status: 502 });
    });

    it('throws a malformed-response UpstreamError on an event that is not JSON', async () => {
      double.setScript({ kind: 'malformedChunk' });
      const err = await rejection(collect(adapter.chatStream(call({ model: 'claude', stream: true }))));
      expect(err).toMatchObject({ code: 'upstream_malformed_response' });
    });

    it('aborts the upstream request when the consumer stops early', async () => {
      double.setScript({ kind: 'ok', chunkCount: 1000, chunkDelayMs: 5 });
      let seen = 0;
      for await (const _chunk of adapter.chatStream(call({ model: 'claude', stream: true }))) {
        if (++seen === 3) break;
      }
      await double.waitForAbort(0);
    });

    it('aborts the upstream request when the signal fires before headers', async () => {
      double.setScript({ kind: 'hang' });
      const controller = new AbortController();
      const next = adapter.chatStream(call({ model: 'claude', stream: true }, { signal: controller.signal }))[Symbol.asyncIterator]().next();
      await double.waitForRequests(1);
      controller.abort();
      expect(await rejection(next)).toBeInstanceOf(UpstreamError);
      await double.waitForAbort(0);
    });
  });
});
