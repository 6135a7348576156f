/**
 * What a request's usage record keeps beyond tokens and cost, so `tollgate insights` can show evidence
 * without re-reading prompts: the output cap in force (output-cap advice) and a hash and token
 * count of its prompt prefix (caching advice: the same long prefix sent again and again without cache reads).
 * The prefix is everything but the last message (system prompt, few-shot turns, history) plus the tools:
 * the part a provider's prompt cache could serve. Cheap: no prompt text is stored, and short prefixes are
 * skipped before anything is hashed or counted.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionRequest } from './openai-schema';
import { estimateTokens } from './token-estimate';

/** Providers cache prompts from 1,024 tokens (OpenAI, Anthropic Sonnet/Haiku): shorter prefixes are not evidence. */
export const CACHEABLE_PREFIX_TOKENS = 1_024;

export interface RequestEvidence {
  /** The output cap in force per choice (core/output-cap.ts: what was reserved and sent upstream). */
  outputCapTokens?: number;
  /** First 16 hex digits of the SHA-256 of the prefix (messages but the last, and tools), when it is long. */
  prefixHash?: string;
  /** The prefix's o200k token estimate (at least CACHEABLE_PREFIX_TOKENS when present). */
  prefixTokens?: number;
  /** The experiment arm that served the request (see core/experiments.ts). */
  arm?: string;
}

export function requestEvidence(request: ChatCompletionRequest, outputCapTokens?: number): RequestEvidence {
  const evidence: RequestEvidence = {};
  if (outputCapTokens !== undefined) evidence.outputCapTokens = outputCapTokens;
  if (request.messages.length < 2) return evidence;
  const prefix = JSON.stringify({ messages: request.messages.slice(0, -1), tools: request.tools ?? null });
  // Every token is at least one character: a shorter text cannot reach the threshold.
  if (prefix.length < CACHEABLE_PREFIX_TOKENS) return evidence;
  const tokens = estimateTokens(prefix);
  if (tokens < CACHEABLE_PREFIX_TOKENS) return evidence;
  evidence.prefixHash = createHash('sha256').update(prefix).digest('hex').slice(0, 16);
  evidence.prefixTokens = tokens;
  return evidence;
}
