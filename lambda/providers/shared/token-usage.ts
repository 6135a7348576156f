/**
 * Usage from providers that report cache tokens *beside* input tokens (Anthropic, Bedrock), turned into
 * OpenAI's convention where `prompt_tokens` includes them. Pricing relies on this being uniform.
 */
import { USAGE_CLAMPED, type Usage } from '../../core/openai-schema';
import { toOpenAIUsage } from '../../core/usage';

/** The upstream's counts as it sent them (numbers, null, missing, or junk). */
export interface SplitUsage {
  /** Input tokens neither read from nor written to a cache. */
  uncachedInput: unknown;
  output: unknown;
  cacheRead: unknown;
  cacheWrite: unknown;
}

export function usageFromSplit(u: SplitUsage): Usage {
  const cacheRead = count(u.cacheRead);
  const cacheWrite = count(u.cacheWrite);
  const usage = toOpenAIUsage({
    inputTokens: count(u.uncachedInput) + cacheRead + cacheWrite,
    outputTokens: count(u.output),
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: 0,
  });
  return markIfClamped(usage, [u.uncachedInput, u.output, u.cacheRead, u.cacheWrite]);
}

/** A count the upstream may send: absent, or a non-negative safe integer. */
function isSaneCount(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0);
}

/** Flags `usage` (USAGE_CLAMPED) when any raw count it was built from was not a sane count. */
export function markIfClamped(usage: Usage, raw: ReadonlyArray<unknown>): Usage {
  if (raw.some((v) => !isSaneCount(v))) usage[USAGE_CLAMPED] = true;
  return usage;
}

/** A non-negative integer or 0: upstreams send null, omit fields, or (rarely) junk. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
