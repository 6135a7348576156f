/**
 * Per-minute rate limits (requests and tokens per minute), pure: fixed UTC-minute windows, the token
 * charge of a request, and OpenAI's `x-ratelimit-*` headers. The store keeps one counter per key/team and
 * window; the decision itself is the store's conditional write, so it is exact across containers.
 */
import * as z from 'zod';

export const rateLimitsSchema = z.strictObject({
  /** Requests per minute. */
  rpm: z.number().int().positive().optional(),
  /** Tokens per minute (input estimate + n × the output cap sent upstream at admission, corrected to actual usage at settlement). */
  tpm: z.number().int().positive().optional(),
});
export type RateLimits = z.infer<typeof rateLimitsSchema>;

export type RateLimitScope = 'key' | 'team';

export interface RateWindow {
  /** `2026-11-25T10:31`, the UTC minute. */
  label: string;
  startMs: number;
  endMs: number;
}

export function minuteWindow(nowMs: number): RateWindow {
  const startMs = Math.floor(nowMs / 60_000) * 60_000;
  return { label: new Date(startMs).toISOString().slice(0, 16), startMs, endMs: startMs + 60_000 };
}

export function hasLimits(l: RateLimits | undefined): l is RateLimits {
  return !!l && (l.rpm !== undefined || l.tpm !== undefined);
}

/**
 * Tokens a request counts against TPM when admitted: its input estimate plus its whole output allowance
 * (core/output-cap.ts: the cap sent upstream, times `n` choices; the input is processed once).
 */
export function admissionTokens(inputEstimate: number, outputAllowance: number): number {
  return inputEstimate + outputAllowance;
}

/** A limit's state after (or at) a decision, for headers. */
export interface RateState {
  scope: RateLimitScope;
  limits: RateLimits;
  requests: number;
  tokens: number;
  window: RateWindow;
}

/** OpenAI's reset format: `1s`, `6m0s`, `250ms`. */
export function formatReset(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1_000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/**
 * `x-ratelimit-*` headers for the tightest of the limits that apply (OpenAI sends one set, so when key and
 * team limits both apply the one with fewer remaining requests, then tokens, is reported).
 */
export function rateLimitHeaders(states: ReadonlyArray<RateState>, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const pick = (kind: 'rpm' | 'tpm') =>
    states
      .filter((s) => s.limits[kind] !== undefined)
      .map((s) => ({ s, remaining: s.limits[kind]! - (kind === 'rpm' ? s.requests : s.tokens) }))
      .sort((a, b) => a.remaining - b.remaining)[0];
  const req = pick('rpm');
  if (req) {
    headers['x-ratelimit-limit-requests'] = String(req.s.limits.rpm);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, req.remaining));
    headers['x-ratelimit-reset-requests'] = formatReset(req.s.window.endMs - nowMs);
  }
  const tok = pick('tpm');
  if (tok) {
    headers['x-ratelimit-limit-tokens'] = String(tok.s.limits.tpm);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, tok.remaining));
    headers['x-ratelimit-reset-tokens'] = formatReset(tok.s.window.endMs - nowMs);
  }
  return headers;
}

/** Whole seconds until the window ends, at least 1: the `retry-after` of a rejection. */
export function retryAfterSeconds(window: RateWindow, nowMs: number): number {
  return Math.max(1, Math.ceil((window.endMs - nowMs) / 1_000));
}
