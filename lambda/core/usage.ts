import { USAGE_CLAMPED, type Usage } from './openai-schema';

/**
 * Token usage, normalised the same way for every provider so cost is computed uniformly.
 * Follows OpenAI's convention: `inputTokens` includes cache-read and cache-write tokens, `outputTokens`
 * includes reasoning tokens.
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** Some count the upstream reported was impossible (negative, non-numeric, absurd, above the cap sent) and was clamped. */
  clamped?: boolean;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
});

/**
 * An adapter's OpenAI-convention usage → TokenUsage. When the host reports a `total_tokens` above
 * prompt + completion, the difference is output it generated but did not count as completion (Gemini's
 * thinking on its OpenAI-compatible endpoint): it is billed as output, as reasoning tokens.
 */
export function fromOpenAIUsage(u: Usage | null | undefined): TokenUsage | undefined {
  if (!u) return undefined;
  const inputTokens = u.prompt_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  const hidden = typeof u.total_tokens === 'number' && u.total_tokens > inputTokens + completion ? u.total_tokens - inputTokens - completion : 0;
  const usage: TokenUsage = {
    inputTokens,
    outputTokens: completion + hidden,
    cacheReadTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: u.prompt_tokens_details?.cache_write_tokens ?? 0,
    reasoningTokens: (u.completion_tokens_details?.reasoning_tokens ?? 0) + hidden,
  };
  if (u[USAGE_CLAMPED]) usage.clamped = true;
  return usage;
}

/** No request reads more input than this (the largest context windows are ~10M tokens): above it, a count is a lie. */
export const MAX_PLAUSIBLE_INPUT_TOKENS = 20_000_000;

/**
 * The one place usage becomes what is billed: every count a non-negative integer, input at most
 * MAX_PLAUSIBLE_INPUT_TOKENS, output at most the cap that was sent upstream (× n, what the reservation
 * allowed), cache reads and writes within the input, reasoning within the output. Anything clamped sets
 * `clamped` (recorded as `usageClamped`), so a lying or broken upstream can neither fail settlement nor
 * bill past its cap.
 */
export function reconcileUsage(u: TokenUsage, limits: { maxOutputTokens: number }): TokenUsage {
  let clamped = u.clamped === true;
  const bound = (value: number, max: number): number => {
    const sane = Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
    const out = Math.min(sane, Math.max(0, Math.floor(max)));
    if (out !== value) clamped = true;
    return out;
  };
  const inputTokens = bound(u.inputTokens, MAX_PLAUSIBLE_INPUT_TOKENS);
  const outputTokens = bound(u.outputTokens, limits.maxOutputTokens);
  const cacheReadTokens = bound(u.cacheReadTokens, inputTokens);
  const cacheWriteTokens = bound(u.cacheWriteTokens, inputTokens - cacheReadTokens);
  const reasoningTokens = bound(u.reasoningTokens, outputTokens);
  const out: TokenUsage = { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens };
  if (clamped) out.clamped = true;
  return out;
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
