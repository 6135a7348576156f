/**
 * `POST /v1/embeddings` in OpenAI's shape: one string, an array of strings, one array of token ids, or an
 * array of token-id arrays (1 to 2,048 inputs, none empty), `encoding_format` float or base64,
 * `dimensions`, `user`. The gateway encodes base64 itself, so every provider serves both formats.
 */
import * as z from 'zod';
import { onFirstUse } from '../../../core/on-first-use';
import { estimateTokens } from '../../../core/token-estimate';
import type { EmbeddingsCall } from '../../../providers/types';
import { validateBody } from '../../validate-request';

export const MAX_EMBEDDING_INPUTS = 2048;

const INPUT_SHAPES = 'a non-empty string, an array of non-empty strings, an array of token ids, or an array of token-id arrays (at most 2048 inputs)';

/** Built on the first embeddings request (on-first-use.ts), not at a cold start. */
export const embeddingsRequestSchema = onFirstUse(() => {
  const tokenId = z.number().int().nonnegative();
  return z.strictObject({
    model: z.string().min(1),
    input: z.union(
      [
        z.string().min(1),
        z.array(z.string().min(1)).min(1).max(MAX_EMBEDDING_INPUTS),
        z.array(tokenId).min(1),
        z.array(z.array(tokenId).min(1)).min(1).max(MAX_EMBEDDING_INPUTS),
      ],
      { error: `must be ${INPUT_SHAPES}` },
    ),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: z.number().int().positive().max(65_536).optional(),
    user: z.string().optional(),
  });
});
export type EmbeddingsRequest = z.infer<ReturnType<typeof embeddingsRequestSchema>>;

export function validateEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  return validateBody(embeddingsRequestSchema(), body);
}

/** The inputs as a list: texts, or token-id arrays. */
export type EmbeddingInputs = EmbeddingsCall['input'];

export function embeddingInputs(input: EmbeddingsRequest['input']): EmbeddingInputs {
  if (typeof input === 'string') return { kind: 'text', texts: [input] };
  if (input.every((x): x is string => typeof x === 'string')) return { kind: 'text', texts: input };
  if (input.every((x): x is number => typeof x === 'number')) return { kind: 'tokens', tokens: [input] };
  return { kind: 'tokens', tokens: input as number[][] };
}

export function inputCount(inputs: EmbeddingInputs): number {
  return inputs.kind === 'text' ? inputs.texts.length : inputs.tokens.length;
}

/** Input tokens for admission and for usage when the upstream reports none: token arrays count exactly. */
export function estimateEmbeddingTokens(inputs: EmbeddingInputs): number {
  if (inputs.kind === 'tokens') return inputs.tokens.reduce((n, t) => n + t.length, 0);
  return inputs.texts.reduce((n, t) => n + estimateTokens(t), 0);
}
