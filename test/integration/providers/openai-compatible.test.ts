import { UpstreamError } from '../../../lambda/core/errors';
import { createOpenAICompatibleAdapter } from '../../../lambda/providers/openai-compatible/adapter';
import type { ProviderAdapter } from '../../../lambda/providers/types';
import { startOpenAIDouble, type UpstreamDouble } from '../../doubles/openai-double';
import { call, collect, rejection, streamedText, streamedToolCalls } from './collect';

describe('Adapter: openai-compatible against the OpenAI double', () => {
  let double: UpstreamDouble;
  let adapter: ProviderAdapter;

  beforeEach(async () => {
    double = await startOpenAIDouble();
    adapter = createOpenAICompatibleAdapter('openai', { baseUrl: `${double.url}/v1`, headers: { 'x-extra': 'yes' } });
  });

  afterEach(async () => {
    await double.close();
  });

  describe('Method: chat', () => {
    it('returns the completion and sends the key, extra headers and a body without gateway-only fields, capped', async () => {
      double.setScript({ kind: 'ok', text: 'Hi there', usage: { promptTokens: 20, completionTokens: 3, cachedTokens: 8 } });
      const result = await adapter.chat(call({ model: 'gpt-4o-mini', user: 'u-1', metadata: { team: 'search' }, temperature: null }, { apiKey: 'sk-test' }));

      expect(result.choices[0].message.content).toBe('Hi there');
      expect(result.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 8 } });
      const [req] = double.requests;
      expect(req.path).toBe('/v1/chat/completions');
      expect(req.headers.authorization).toBe('Bearer sk-test');
      expect(req.headers['x-extra']).toBe('yes');
      expect(req.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], user: 'u-1', stream: false, max_tokens: 4096 });
    });

    it('sends no authorization header when the provider has no key', async () => {
      await adapter.chat(call({ model: 'llama3' }));
      expect(double.requests[0].headers.authorization).toBeUndefined();
    });

    it('forwards image parts unchanged', async () => {
      const content = [
        { type: 'text' as const, text: 'What is this?' },
        { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      ];
      await adapter.chat(call({ model: 'gpt-4o', messages: [{ role: 'user', content }] }));
      expect((double.requests[0].body as { messages: unknown[] }).messages).toEqual([{ role: 'user', content }]);
    });

    it.each([500, 503, 429])('throws a retryable UpstreamError carrying status %i and the upstream message', async (status) => {
      double.setScript({ kind: 'status', status, message: 'upstream is sad' });
      const err = await rejection(adapter.chat(call({ model: 'gpt-4o' }, { apiKey: 'sk-secret' })));
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).toMatchObject({ upstreamStatus: status, retryable: true, provider: 'openai' });
      expect((err as UpstreamError).detail).toContain('upstream is sad');
      expect((err as Error).message).not.toContain('upstream is sad');
    });

    it('throws a non-retryable 400 UpstreamError when the upstream rejects the request', async () => {
      double.setScript({ kind: 'status', status: 400, message: "Invalid value for 'temperature'" });
      const err = await rejection(adapter.chat(call({ model: 'gpt-4o' })));
      expect(err).toMatchObject({ upstreamStatus: 400, retryable: false, status: 400 });
    });

    it('never repeats the key when the upstream echoes it in a 401', async () => {
      double.setScript({ kind: 'status', status: 401, message: 'Incorrect API key provided: sk-secret-value' });
      const err = await rejection(adapter.chat(call({ model: 'gpt-4o' }, { apiKey: 'sk-secret-value' })));
      expect(err).toMatchObject({ upstreamStatus: 401, retryable: false, status: 502 });
      expect((err as Error).message).not.toContain('sk-secret');
    });

    it('throws a retryable UpstreamError when nothing listens', async () => {
      const port = new URL(double.url).port;
      await double.close();
      const dead = createOpenAICompatibleAdapter('openai', { baseUrl: `http://127.0.0.1:${port}/v1` });
      const err = await rejection(dead.chat(call({ model: 'gpt-4o' })));
      expect(err).toMatchObject({ upstreamStatus: undefined, retryable: true, status: 502 });
      double = await startOpenAIDouble();
    });

    it('aborts the upstream request when the signal fires while the upstream hangs', async () => {
      double.setScript({ kind: 'hang' });
      const controller = new AbortController();
      const pending = adapter.chat(call({ model: 'gpt-4o' }, { signal: controller.signal }));
      await double.waitForRequests(1);
      controller.abort(new Error('client left'));
      const err = await rejection(pending);
      expect(err).toBeInstanceOf(UpstreamError);
      await double.waitForAbort(0);
    });

    it('throws an UpstreamError when the connection drops mid-body', async () => {
      double.setScript({ kind: 'dropMidStream', afterChunks: 0 });
      const err = await rejection(adapter.chat(call({ model: 'gpt-4o' })));
      expect(err).toMatchObject({ retryable: true, status: 502 });
    });

    it('throws an UpstreamError when the body is not JSON', async () => {
      double.setScript({ kind: 'malformedChunk' });
      const err = await rejection(adapter.chat(call({ model: 'gpt-4o' })));
      expect(err).toMatchObject({ code: 'upstream_malformed_response', status: 502 });
    });
  });

  describe('Method: chatStream', () => {
    it('streams content and ends with one usage chunk even when the client did not ask for usage', async () => {
      double.setScript({ kind: 'ok', text: 'one two three', usage: { promptTokens: 30, completionTokens: 3, cachedTokens: 10 } });
      const chunks = await collect(adapter.chatStream(call({ model: 'gpt-4o', stream: true })));

      expect(streamedText(chunks)).toBe('one two three');
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 10 } });
      expect(chunks.filter((c) => c.usage)).toHaveLength(1);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
      expect(double.requests[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    });

    it('streams tool-call deltas with index, id, name and argument pieces', async () => {
      double.setScript({ kind: 'ok', toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: 'call_b', name: 'get_time', arguments: '{}' }] });
      const chunks = await collect(adapter.chatStream(call({ model: 'gpt-4o', stream: true })));
      expect(streamedToolCalls(chunks)).toEqual([
        { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'call_b', name: 'get_time', arguments: '{}' },
      ]);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
    });

    it('rejects the first next() with a retryable UpstreamError on 503', async () => {
      double.setScript({ kind: 'status', status: 503 });
      const iterator = adapter.chatStream(call({ model: 'gpt-4o', stream: true }))[Symbol.asyncIterator]();
      const err = await rejection(iterator.next());
      expect(err).toMatchObject({ upstreamStatus: 503, retryable: true });
    });

    it('throws from the iterator when the connection drops mid-stream', async () => {
      double.setScript({ kind: 'dropMidStream', afterChunks: 2, text: 'a b c d e' });
      const received: string[] = [];
      const err = await rejection(
        (async () => {
          for await (const chunk of adapter.chatStream(call({ model: 'gpt-4o', stream: true }))) received.push(chunk.choices[0]?.delta.content ?? '');
        })(),
      );
      expect(err).toMatchObject({ retryable: true, status: 502 });
      expect(received.join('')).toBe('a b ');
    });

    it('throws a malformed-response UpstreamError from the iterator on a chunk that is not JSON', async () => {
      double.setScript({ kind: 'malformedChunk', afterChunks: 1 });
      const err = await rejection(collect(adapter.chatStream(call({ model: 'gpt-4o', stream: true }))));
      expect(err).toMatchObject({ code: 'upstream_malformed_response' });
    });

    it('throws an UpstreamError when the upstream sends an error event mid-stream', async () => {
      double.setScript({ kind: 'streamError', message: 'overloaded' });
      const err = await rejection(collect(adapter.chatStream(call({ model: 'gpt-4o', stream: true }))));
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).detail).toContain('overloaded');
      expect((err as Error).message).not.toContain('overloaded');
    });

    it('aborts the upstream request when the consumer stops early', async () => {
      double.setScript({ kind: 'ok', chunkCount: 1000, chunkDelayMs: 5 });
      let seen = 0;
      for await (const _chunk of adapter.chatStream(call({ model: 'gpt-4o', stream: true }))) {
        if (++seen === 3) break;
      }
      await double.waitForAbort(0);
    });

    it('aborts the upstream request when the signal fires mid-stream', async () => {
      double.setScript({ kind: 'ok', chunkCount: 1000, chunkDelayMs: 5 });
      const controller = new AbortController();
      const iterator = adapter.chatStream(call({ model: 'gpt-4o', stream: true }, { signal: controller.signal }))[Symbol.asyncIterator]();
      await iterator.next();
      controller.abort(new Error('timeout'));
      await rejection((async () => {
        for (;;) if ((await iterator.next()).done) return;
      })());
      await double.waitForAbort(0);
    });

    it('keeps up with a long stream of thousands of chunks', async () => {
      double.setScript({ kind: 'ok', chunkCount: 5000 });
      const chunks = await collect(adapter.chatStream(call({ model: 'gpt-4o', stream: true })));
      expect(streamedText(chunks)).toBe('tok '.repeat(5000));
    });
  });
});
