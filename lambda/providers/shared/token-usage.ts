/**
 * Usage from providers that report cache tokens *beside* input tokens (Anthropic, Bedrock), turned into
 * OpenAI's convention where `prompt_tokens` includes them. Pricing relies on this being uniform.
 */
import type { Usage } from '../../core/openai-schema';
import { toOpenAIUsage } from '../../core/usage';

export interface SplitUsage {
  /** Input tokens neither read from nor written to a cache. */
  uncachedInput: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export function usageFromSplit(u: SplitUsage): Usage {
  return toOpenAIUsage({
    inputTokens: u.uncachedInput + u.cacheRead + u.cacheWrite,
    outputTokens: u.output,
    cacheReadTokens: u.cacheRead,
    cacheWriteTokens: u.cacheWrite,
    reasoningTokens: 0,
  });
}

/** A non-negative integer or 0: upstreams send null, omit fields, or (rarely) junk. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
