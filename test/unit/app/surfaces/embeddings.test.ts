import { BadRequestError } from '../../../../lambda/core/errors';
import { embeddingsResponse, encodeBase64 } from '../../../../lambda/app/surfaces/embeddings/response';
import { embeddingInputs, estimateEmbeddingTokens, validateEmbeddingsRequest } from '../../../../lambda/app/surfaces/embeddings/schema';

describe('Method: validateEmbeddingsRequest', () => {
  it.each([
    ['one string', 'hello world', { kind: 'text', texts: ['hello world'] }],
    ['strings', ['a', 'b'], { kind: 'text', texts: ['a', 'b'] }],
    ['one token array', [1, 2, 3], { kind: 'tokens', tokens: [[1, 2, 3]] }],
    ['token arrays', [[1, 2], [3]], { kind: 'tokens', tokens: [[1, 2], [3]] }],
  ])('accepts %s', (_what, input, normalised) => {
    const req = validateEmbeddingsRequest({ model: 'emb', input, encoding_format: 'base64', dimensions: 256, user: 'u' });
    expect(embeddingInputs(req.input)).toEqual(normalised);
  });

  it.each([
    [{ model: 'emb', input: '' }, 'input', 'invalid_value'],
    [{ model: 'emb', input: [] }, 'input', 'invalid_value'],
    [{ model: 'emb', input: ['a', ''] }, 'input[1]', 'invalid_value'],
    [{ model: 'emb', input: ['a', 1] }, 'input', 'invalid_value'],
    [{ model: 'emb', input: Array.from({ length: 2049 }, () => 'x') }, 'input', 'invalid_value'],
    [{ model: 'emb' }, 'input', 'invalid_value'],
    [{ model: 'emb', input: 'x', encoding_format: 'int8' }, 'encoding_format', 'invalid_value'],
    [{ model: 'emb', input: 'x', dimensions: 0 }, 'dimensions', 'invalid_value'],
    [{ model: 'emb', input: 'x', input_type: 'query' }, 'input_type', 'unknown_parameter'],
  ])('answers %j with a 400 naming %s', (body, param, code) => {
    try {
      validateEmbeddingsRequest(body);
      throw new Error('expected a 400');
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).toBody().error).toMatchObject({ param, code });
    }
  });
});

describe('Method: estimateEmbeddingTokens', () => {
  it('counts token arrays exactly and texts with the tokenizer', () => {
    expect(estimateEmbeddingTokens({ kind: 'tokens', tokens: [[1, 2, 3], [4]] })).toBe(4);
    expect(estimateEmbeddingTokens({ kind: 'text', texts: ['hello world', 'hello'] })).toBe(3);
  });
});

describe('Method: embeddingsResponse', () => {
  it('encodes base64 as little-endian float32, as OpenAI does and openai-node decodes', () => {
    const vector = [0.5, -1.25, 3];
    const b64 = encodeBase64(vector);
    const bytes = Buffer.from(b64, 'base64');
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))).toEqual(vector);
    expect(bytes.readFloatLE(4)).toBe(-1.25);
  });

  it('builds the list shape with usage from input tokens', () => {
    expect(embeddingsResponse({ vectors: [[1], [2]], model: 'm' }, 'float', 7)).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [1] },
        { object: 'embedding', index: 1, embedding: [2] },
      ],
      model: 'm',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
  });
});
