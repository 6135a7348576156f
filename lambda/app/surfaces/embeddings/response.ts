/** The `/v1/embeddings` answer in OpenAI's list shape, vectors as floats or base64 (little-endian float32, as OpenAI sends them). */
import type { EmbeddingsResult } from '../../../providers/types';

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number; cost?: number };
}

export function encodeBase64(vector: ReadonlyArray<number>): string {
  const floats = Float32Array.from(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  if (!IS_LITTLE_ENDIAN) bytes.swap32();
  return bytes.toString('base64');
}

const IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export function embeddingsResponse(result: EmbeddingsResult, format: 'float' | 'base64', inputTokens: number): EmbeddingsResponse {
  return {
    object: 'list',
    data: result.vectors.map((v, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? encodeBase64(v) : v })),
    model: result.model,
    usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
  };
}
