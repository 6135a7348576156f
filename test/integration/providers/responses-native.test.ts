/** The native Responses passthrough of the OpenAI-compatible adapter against the OpenAI double. */
import { UpstreamError } from '../../../lambda/core/errors';
import { createOpenAICompatibleAdapter } from '../../../lambda/providers/openai-compatible/adapter';
import type { ProviderAdapter, ResponsesUpstreamEvent } from '../../../lambda/providers/types';
import { startOpenAIDouble, type UpstreamDouble } from '../../doubles/openai-double';

describe('Adapter: openai-compatible, native Responses API', () => {
  let double: UpstreamDouble;
  let adapter: ProviderAdapter;
  const call = (body: Record<string, unknown>) => ({ body: { model: 'gpt-4o-mini', input: 'hi', ...body }, signal: new AbortController().signal, apiKey: 'test-key' });

  beforeEach(async () => {
    double = await startOpenAIDouble();
    adapter = createOpenAICompatibleAdapter('openai', { baseUrl: `${double.url}/v1` });
  });
  afterEach(() => double.close());

  it('posts the body to /responses with stream false and returns the Response object', async () => {
    double.setScript({ kind: 'ok', text: 'Hello there', usage: { promptTokens: 30, completionTokens: 2, cachedTokens: 20 } });
    const response = await adapter.responses!(call({ instructions: 'Be brief.' }));
    expect(response).toMatchObject({ object: 'response', status: 'completed', usage: { input_tokens: 30, input_tokens_details: { cached_tokens: 20 } } });
    expect(double.requests[0].path).toBe('/v1/responses');
    expect(double.requests[0].headers.authorization).toBe('Bearer test-key');
    expect(double.requests[0].body).toEqual({ model: 'gpt-4o-mini', input: 'hi', instructions: 'Be brief.', stream: false });
  });

  it('streams every event in order and ends after response.completed', async () => {
    double.setScript({ kind: 'ok', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
    const events: ResponsesUpstreamEvent[] = [];
    for await (const e of adapter.responsesStream!(call({}))) events.push(e);
    expect(events[0].type).toBe('response.created');
    expect(events.at(-1)?.type).toBe('response.completed');
    expect(events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.parsed.delta).join('')).toBe('{"city":"Paris"}');
    expect(double.requests[0].body).toMatchObject({ stream: true });
  });

  it('throws on an upstream error event and on a stream cut before the terminal event', async () => {
    double.setScript({ kind: 'streamError', afterChunks: 1, message: 'overloaded' }, { kind: 'dropMidStream', afterChunks: 1 });
    for (const expected of [/in the middle of the answer/, /closed the connection|ended the stream/]) {
      const seen: string[] = [];
      let error: unknown;
      try {
        for await (const e of adapter.responsesStream!(call({}))) seen.push(e.type);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as Error).message).toMatch(expected);
      // The upstream's words are for the log only.
      expect((error as Error).message).not.toContain('overloaded');
      expect(seen).toContain('response.output_text.delta');
    }
  });

  it('rejects the first next() on an upstream status error, so the router can fall back', async () => {
    double.setScript({ kind: 'status', status: 503 });
    await expect(adapter.responsesStream!(call({}))[Symbol.asyncIterator]().next()).rejects.toMatchObject({ status: 502, retryable: true });
  });
});
