import type { Usage } from './openai-schema';

/**
 * Token usage, normalised the same way for every provider so cost is computed uniformly.
 * Follows OpenAI's convention: `inputTokens` includes cache-read and cache-write tokens.
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});

export function fromOpenAIUsage(u: Usage | null | undefined): TokenUsage | undefined {
  if (!u) return undefined;
  return {
    inputTokens: u.prompt_tokens ?? 0,
    outputTokens: u.completion_tokens ?? 0,
    cacheReadTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: u.prompt_tokens_details?.cache_write_tokens ?? 0,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function toOpenAIUsage(u: TokenUsage): Usage {
  const usage: Usage = {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
  };
  if (u.cacheWriteTokens > 0) usage.prompt_tokens_details!.cache_write_tokens = u.cacheWriteTokens;
  if (u.reasoningTokens > 0) usage.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return usage;
}
