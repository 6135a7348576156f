/**
 * Embeddings adapters against the doubles: the OpenAI-compatible adapter over HTTP, and the Bedrock
 * adapter through the real BedrockRuntimeClient (InvokeModel, SigV4) for Titan and Cohere.
 */
import { UnsupportedParameterError, UpstreamError } from '../../../lambda/core/errors';
import { createBedrockAdapter, type BedrockAdapter } from '../../../lambda/providers/bedrock/adapter';
import { COHERE_BATCH, TITAN_CONCURRENCY } from '../../../lambda/providers/bedrock/embeddings';
import { createOpenAICompatibleAdapter } from '../../../lambda/providers/openai-compatible/adapter';
import type { EmbeddingsCall, ProviderAdapter } from '../../../lambda/providers/types';
import { startBedrockDouble } from '../../doubles/bedrock-double';
import { doubleVector } from '../../doubles/embeddings-double';
import { startOpenAIDouble, type UpstreamDouble } from '../../doubles/openai-double';

function embedCall(model: string, input: EmbeddingsCall['input'], extra: Partial<EmbeddingsCall> = {}): EmbeddingsCall {
  return { model, input, signal: new AbortController().signal, ...extra };
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('Adapter: openai-compatible, Method: embed', () => {
  let double: UpstreamDouble;
  let adapter: ProviderAdapter;

  beforeEach(async () => {
    double = await startOpenAIDouble();
    adapter = createOpenAICompatibleAdapter('openai', { baseUrl: `${double.url}/v1` });
  });
  afterEach(() => double.close());

  it('posts to /embeddings for floats, puts vectors back in input order by index and reads usage', async () => {
    const result = await adapter.embed!(embedCall('text-embedding-3-small', { kind: 'text', texts: ['alpha beta', 'gamma'] }, { dimensions: 4, user: 'u1', apiKey: 'test-key' }));
    expect(result.vectors).toEqual([doubleVector('alpha beta', 4), doubleVector('gamma', 4)]);
    expect(result.inputTokens).toBe(3);
    const [req] = double.requests;
    expect(req.path).toBe('/v1/embeddings');
    expect(req.headers.authorization).toBe('Bearer test-key');
    expect(req.body).toEqual({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'], encoding_format: 'float', dimensions: 4, user: 'u1' });
  });

  it('sends token arrays as they are', async () => {
    const result = await adapter.embed!(embedCall('text-embedding-3-small', { kind: 'tokens', tokens: [[1, 2, 3], [9]] }));
    expect(result.vectors).toHaveLength(2);
    expect(double.requests[0].body).toMatchObject({ input: [[1, 2, 3], [9]] });
    expect(result.inputTokens).toBe(4);
  });

  it('leaves usage undefined when the host reports none (the gateway estimates)', async () => {
    double.setScript({ kind: 'ok', usage: null });
    expect((await adapter.embed!(embedCall('m', { kind: 'text', texts: ['x'] }))).inputTokens).toBeUndefined();
  });

  it('refuses an answer with a vector missing as a malformed response (502), and maps upstream errors', async () => {
    double.setScript({ kind: 'malformedChunk' }, { kind: 'status', status: 429 });
    const malformed = await rejectionOf(adapter.embed!(embedCall('m', { kind: 'text', texts: ['a', 'b'] })));
    expect(malformed).toBeInstanceOf(UpstreamError);
    expect((malformed as UpstreamError).code).toBe('upstream_malformed_response');
    const limited = await rejectionOf(adapter.embed!(embedCall('m', { kind: 'text', texts: ['a'] })));
    expect(limited).toMatchObject({ status: 429, retryable: true });
  });
});

describe('Adapter: bedrock (real BedrockRuntimeClient), Method: embed', () => {
  let double: UpstreamDouble;
  let adapter: BedrockAdapter;

  beforeEach(async () => {
    double = await startBedrockDouble();
    adapter = createBedrockAdapter('bedrock', { region: 'us-east-1', endpoint: double.url }, { credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } });
  });
  afterEach(async () => {
    adapter.client.destroy();
    await double.close();
  });

  it('Titan v2: one InvokeModel per text, bounded concurrency, vectors in order, tokens summed from the header', async () => {
    double.setDefault({ kind: 'ok', delayMs: 20 });
    const texts = Array.from({ length: 20 }, (_, i) => `text number ${i}`);
    const result = await adapter.embed!(embedCall('amazon.titan-embed-text-v2:0', { kind: 'text', texts }, { dimensions: 256 }));
    expect(result.vectors).toEqual(texts.map((t) => doubleVector(t, 256)));
    expect(result.inputTokens).toBe(20 * 3);
    expect(double.requests).toHaveLength(20);
    expect(double.maxConcurrent()).toBeLessThanOrEqual(TITAN_CONCURRENCY);
    expect(double.maxConcurrent()).toBeGreaterThan(1);
    const first = double.requests[0];
    expect(first.path).toBe(`/model/${encodeURIComponent('amazon.titan-embed-text-v2:0')}/invoke`);
    expect(String(first.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(first.body).toEqual({ inputText: 'text number 0', normalize: true, dimensions: 256 });
  });

  it('Cohere: batches of 96 texts with input_type, vectors in order', async () => {
    const texts = Array.from({ length: 2 * COHERE_BATCH + 8 }, (_, i) => `doc ${i}`);
    const result = await adapter.embed!(embedCall('cohere.embed-english-v3', { kind: 'text', texts }));
    expect(result.vectors).toEqual(texts.map((t) => doubleVector(t)));
    expect(double.requests.map((r) => (r.body as { texts: string[] }).texts.length).sort((a, b) => a - b)).toEqual([8, 96, 96]);
    expect(double.requests[0].body).toMatchObject({ input_type: 'search_document' });
    expect(result.inputTokens).toBe(texts.length * 2);
  });

  const refused: Array<[string, string, EmbeddingsCall['input'], Partial<EmbeddingsCall>, string]> = [
    ['token arrays', 'amazon.titan-embed-text-v2:0', { kind: 'tokens', tokens: [[1, 2]] }, {}, 'input'],
    ['a Titan size it does not make', 'amazon.titan-embed-text-v2:0', { kind: 'text', texts: ['a'] }, { dimensions: 300 }, 'dimensions'],
    ['dimensions on Cohere v3', 'cohere.embed-english-v3', { kind: 'text', texts: ['a'] }, { dimensions: 256 }, 'dimensions'],
    ['a chat model', 'amazon.nova-lite-v1:0', { kind: 'text', texts: ['a'] }, {}, 'model'],
  ];
  it.each(refused)('refuses %s before any call (UnsupportedParameterError, so the router can fall back)', async (_what, model, input, extra, param) => {
    const err = await rejectionOf(adapter.embed!(embedCall(model, input, extra)));
    expect(err).toBeInstanceOf(UnsupportedParameterError);
    expect((err as UnsupportedParameterError).param).toBe(param);
    expect(double.requests).toHaveLength(0);
  });

  it('maps a throttled InvokeModel to a retryable 429 and stops the other calls of the batch', async () => {
    double.setScript({ kind: 'status', status: 429 });
    double.setDefault({ kind: 'ok', delayMs: 200 });
    const err = await rejectionOf(adapter.embed!(embedCall('amazon.titan-embed-text-v2:0', { kind: 'text', texts: ['a', 'b', 'c', 'd'] })));
    expect(err).toMatchObject({ status: 429, retryable: true });
    expect(double.requests.length).toBeLessThanOrEqual(4);
    await double.waitForAbort(1);
  });
});
