/**
 * Embeddings on OpenAI-compatible hosts: `POST {baseUrl}/embeddings`, always asking for floats (the gateway
 * encodes base64 itself, and not every compatible host can). The answer is checked, not trusted: one
 * vector of numbers per input, put back in input order by `index`.
 */
import type { EmbeddingsCall, EmbeddingsResult } from '../types';
import { isRecord } from '../shared/http-transport';
import { count } from '../shared/token-usage';
import { malformedResponseError } from '../shared/upstream-errors';

export function embeddingsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/embeddings`;
}

export function toEmbeddingsBody(call: EmbeddingsCall): Record<string, unknown> {
  const input = call.input.kind === 'text' ? call.input.texts : call.input.tokens;
  return {
    model: call.model,
    input,
    encoding_format: 'float',
    ...(call.dimensions !== undefined ? { dimensions: call.dimensions } : {}),
    ...(call.user !== undefined ? { user: call.user } : {}),
  };
}

export function parseEmbeddings(provider: string, body: unknown, expected: number, model: string): EmbeddingsResult {
  const what = 'embeddings response';
  if (!isRecord(body) || !Array.isArray(body.data) || body.data.length !== expected) throw malformedResponseError(provider, what);
  const vectors: number[][] = new Array<number[]>(expected);
  body.data.forEach((item: unknown, position) => {
    if (!isRecord(item) || !Array.isArray(item.embedding) || !item.embedding.every((x) => typeof x === 'number')) throw malformedResponseError(provider, what);
    const index = typeof item.index === 'number' ? item.index : position;
    if (!Number.isInteger(index) || index < 0 || index >= expected || vectors[index] !== undefined) throw malformedResponseError(provider, what);
    vectors[index] = item.embedding as number[];
  });
  const usage = isRecord(body.usage) && typeof body.usage.prompt_tokens === 'number' ? count(body.usage.prompt_tokens) : undefined;
  return { vectors, model: typeof body.model === 'string' ? body.model : model, ...(usage !== undefined ? { inputTokens: usage } : {}) };
}
