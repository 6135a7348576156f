import { BadRequestError, UpstreamError } from '../../../lambda/core/errors';
import { createBedrockAdapter, type BedrockAdapter } from '../../../lambda/providers/bedrock/adapter';
import { startBedrockDouble, type UpstreamDouble } from '../../doubles/bedrock-double';
import { call, collect, rejection, streamedText, streamedToolCalls } from './collect';

const MODEL = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const FAKE_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

describe('Adapter: bedrock (real BedrockRuntimeClient) against the Bedrock double', () => {
  let double: UpstreamDouble;
  let adapter: BedrockAdapter;

  beforeEach(async () => {
    double = await startBedrockDouble();
    adapter = createBedrockAdapter('bedrock', { region: 'us-east-1', endpoint: double.url }, { credentials: FAKE_CREDENTIALS });
  });

  afterEach(async () => {
    adapter.client.destroy();
    await double.close();
  });

  describe('Method: chat', () => {
    it('calls Converse with mapped messages, signs with SigV4 and maps the answer with cache-aware usage', async () => {
      double.setScript({ kind: 'ok', text: 'Hello!', usage: { promptTokens: 40, completionTokens: 3, cachedTokens: 25, cacheWriteTokens: 5 } });
      const result = await adapter.chat(
        call({ model: MODEL, messages: [{ role: 'system', content: 'Terse.' }, { role: 'user', content: 'Hi' }], max_tokens: 64, temperature: 0.3, stop: ['\n\n'] }),
      );

      expect(result).toMatchObject({ object: 'chat.completion', model: MODEL, choices: [{ message: { content: 'Hello!' }, finish_reason: 'stop' }] });
      expect(result.usage).toEqual({ prompt_tokens: 40, completion_tokens: 3, total_tokens: 43, prompt_tokens_details: { cached_tokens: 25, cache_write_tokens: 5 } });
      const [req] = double.requests;
      expect(req.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
      expect(String(req.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\//);
      expect(req.body).toEqual({
        messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
        system: [{ text: 'Terse.' }],
        inferenceConfig: { maxTokens: 64, temperature: 0.3, stopSequences: ['\n\n'] },
      });
    });

    it('sends data-URL images as bytes and tools as toolSpecs', async () => {
      double.setScript({ kind: 'ok', toolCalls: [{ id: 'tooluse_1', name: 'describe', arguments: '{"color":"red"}' }] });
      const result = await adapter.chat(
        call({
          model: MODEL,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'What?' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } }] }],
          tools: [{ type: 'function', function: { name: 'describe', description: 'Describe', parameters: { type: 'object', properties: { color: { type: 'string' } } } } }],
          tool_choice: 'required',
        }),
      );
      expect(result.choices[0]).toMatchObject({
        message: { content: null, tool_calls: [{ id: 'tooluse_1', function: { name: 'describe', arguments: '{"color":"red"}' } }] },
        finish_reason: 'tool_calls',
      });
      expect(double.requests[0].body).toMatchObject({
        messages: [{ role: 'user', content: [{ text: 'What?' }, { image: { format: 'jpeg', source: { bytes: '/9j/4AAQ' } } }] }],
        toolConfig: {
          tools: [{ toolSpec: { name: 'describe', description: 'Describe', inputSchema: { json: { type: 'object', properties: { color: { type: 'string' } } } } } }],
          toolChoice: { any: {} },
        },
      });
    });

    it('refuses http image URLs before any network call', async () => {
      const err = await rejection(
        adapter.chat(call({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })),
      );
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err).toMatchObject({ param: 'messages[0].content[0].image_url.url' });
      expect(double.requests).toHaveLength(0);
    });

    it.each([
      [429, 'ThrottlingException'],
      [503, 'ServiceUnavailableException'],
      [500, 'InternalServerException'],
    ])('throws a retryable UpstreamError with status %i on %s', async (status, type) => {
      double.setScript({ kind: 'status', status, message: 'slow down' });
      const err = await rejection(adapter.chat(call({ model: MODEL })));
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).toMatchObject({ upstreamStatus: status, retryable: true });
      expect((err as UpstreamError).detail).toContain(type);
      expect((err as Error).message).not.toContain(type);
      expect(double.requests).toHaveLength(1); // the SDK itself does not retry
    });

    it('throws a non-retryable 400 UpstreamError on ValidationException', async () => {
      double.setScript({ kind: 'status', status: 400, message: 'messages: roles must alternate' });
      const err = await rejection(adapter.chat(call({ model: MODEL })));
      expect(err).toMatchObject({ upstreamStatus: 400, retryable: false, status: 400 });
    });

    it('throws a non-retryable UpstreamError on AccessDeniedException, without upstream detail', async () => {
      double.setScript({ kind: 'status', status: 403, message: 'User arn:aws:iam::123:role/x is not authorized' });
      const err = await rejection(adapter.chat(call({ model: MODEL })));
      expect(err).toMatchObject({ upstreamStatus: 403, retryable: false, status: 502 });
      expect((err as Error).message).not.toContain('arn:aws');
    });

    it('aborts the upstream request when the signal fires while Bedrock hangs', async () => {
      double.setScript({ kind: 'hang' });
      const controller = new AbortController();
      const pending = adapter.chat(call({ model: MODEL }, { signal: controller.signal }));
      await double.waitForRequests(1);
      controller.abort(new Error('timeout'));
      expect(await rejection(pending)).toBeInstanceOf(UpstreamError);
      await double.waitForAbort(0);
    });

    it('throws a retryable UpstreamError when nothing listens', async () => {
      const port = new URL(double.url).port;
      await double.close();
      const dead = createBedrockAdapter('bedrock', { region: 'us-east-1', endpoint: `http://127.0.0.1:${port}` }, { credentials: FAKE_CREDENTIALS });
      const err = await rejection(dead.chat(call({ model: MODEL })));
      dead.client.destroy();
      expect(err).toMatchObject({ upstreamStatus: undefined, retryable: true, status: 502 });
      double = await startBedrockDouble();
    });
  });

  describe('Method: chatStream', () => {
    it('streams ConverseStream text and ends with a usage chunk', async () => {
      double.setScript({ kind: 'ok', text: 'alpha beta gamma', usage: { promptTokens: 90, completionTokens: 6, cachedTokens: 80 } });
      const chunks = await collect(adapter.chatStream(call({ model: MODEL, stream: true })));

      expect(double.requests[0].path).toBe(`/model/${encodeURIComponent(MODEL)}/converse-stream`);
      expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(streamedText(chunks)).toBe('alpha beta gamma');
      expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toEqual({ prompt_tokens: 90, completion_tokens: 6, total_tokens: 96, prompt_tokens_details: { cached_tokens: 80 } });
    });

    it('streams toolUse blocks as OpenAI tool-call deltas', async () => {
      double.setScript({ kind: 'ok', toolCalls: [{ id: 'tu_a', name: 'lookup', arguments: '{"q":"tollgate"}' }, { id: 'tu_b', name: 'noop', arguments: '{}' }] });
      const chunks = await collect(adapter.chatStream(call({ model: MODEL, stream: true })));
      expect(streamedToolCalls(chunks)).toEqual([
        { id: 'tu_a', name: 'lookup', arguments: '{"q":"tollgate"}' },
        { id: 'tu_b', name: 'noop', arguments: '{}' },
      ]);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
    });

    it('rejects the first next() with a retryable UpstreamError on throttling', async () => {
      double.setScript({ kind: 'status', status: 429 });
      const err = await rejection(adapter.chatStream(call({ model: MODEL, stream: true }))[Symbol.asyncIterator]().next());
      expect(err).toMatchObject({ upstreamStatus: 429, retryable: true });
    });

    it.each([
      ['modelStreamErrorException', 502],
      ['throttlingException', 429],
      ['validationException', 400],
    ])('throws an UpstreamError from the iterator on a %s frame', async (type, status) => {
      double.setScript({ kind: 'streamError', errorType: type, message: 'stream broke' });
      const err = await rejection(collect(adapter.chatStream(call({ model: MODEL, stream: true }))));
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).toMatchObject({ status });
    });

    it('throws from the iterator when the connection drops mid-stream', async () => {
      double.setScript({ kind: 'dropMidStream', afterChunks: 2 });
      const err = await rejection(collect(adapter.chatStream(call({ model: MODEL, stream: true }))));
      expect(err).toMatchObject({ retryable: true, status: 502 });
    });

    it('throws an UpstreamError from the iterator on a corrupt frame', async () => {
      double.setScript({ kind: 'malformedChunk' });
      const err = await rejection(collect(adapter.chatStream(call({ model: MODEL, stream: true }))));
      expect(err).toBeInstanceOf(UpstreamError);
    });

    it('aborts the upstream request when the consumer stops early', async () => {
      double.setScript({ kind: 'ok', chunkCount: 1000, chunkDelayMs: 5 });
      let seen = 0;
      for await (const _chunk of adapter.chatStream(call({ model: MODEL, stream: true }))) {
        if (++seen === 3) break;
      }
      await double.waitForAbort(0);
    });

    it('aborts the upstream request when the signal fires mid-stream', async () => {
      double.setScript({ kind: 'ok', chunkCount: 1000, chunkDelayMs: 5 });
      const controller = new AbortController();
      const iterator = adapter.chatStream(call({ model: MODEL, stream: true }, { signal: controller.signal }))[Symbol.asyncIterator]();
      await iterator.next();
      controller.abort();
      await rejection(
        (async () => {
          for (;;) if ((await iterator.next()).done) return;
        })(),
      );
      await double.waitForAbort(0);
    });

    it('keeps up with a long stream of thousands of frames', async () => {
      double.setScript({ kind: 'ok', chunkCount: 3000 });
      const chunks = await collect(adapter.chatStream(call({ model: MODEL, stream: true })));
      expect(streamedText(chunks)).toBe('tok '.repeat(3000));
    });
  });
});
