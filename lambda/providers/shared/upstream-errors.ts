/**
 * Turning upstream failures into the gateway's one error type. Every adapter goes through here so that
 * retryability, status mapping and key redaction are decided in one place.
 */
import { GatewayError, UpstreamError } from '../../core/errors';

const MAX_MESSAGE_CHARS = 500;

/** Removes the provider key from anything the upstream echoes back, and keeps messages short. */
export function scrubMessage(message: string, apiKey?: string): string {
  let text = message;
  if (apiKey && apiKey.length >= 4) text = text.split(apiKey).join('[redacted]');
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

/**
 * An upstream non-2xx answer. On 401/403 the upstream's words are replaced: they describe *our* key
 * (often with a masked fragment of it), which the client must never see.
 */
export function upstreamStatusError(provider: string, status: number, upstreamMessage: string | undefined, apiKey?: string): UpstreamError {
  const message =
    status === 401 || status === 403
      ? `Provider '${provider}' rejected the gateway's credentials (${status}).`
      : `Provider '${provider}' returned ${status}: ${scrubMessage(upstreamMessage || 'no error message', apiKey)}`;
  return new UpstreamError(provider, message, { upstreamStatus: status });
}

/** The upstream could not be reached, or the connection broke. Retryable: another target may work. */
export function connectionError(provider: string, cause: unknown, what = 'could not be reached'): UpstreamError {
  const detail = cause instanceof Error ? describeCause(cause) : '';
  return new UpstreamError(provider, `Provider '${provider}' ${what}${detail ? ` (${detail})` : ''}.`, { cause });
}

/** The upstream answered something we cannot parse. Not the client's fault, so 502. */
export function malformedResponseError(provider: string, what: string, cause?: unknown): UpstreamError {
  return new UpstreamError(provider, `Provider '${provider}' sent a malformed ${what}.`, {
    code: 'upstream_malformed_response',
    cause,
  });
}

/**
 * What to throw when a request was aborted: the signal's reason when it is already a gateway error (the
 * router's timeout), otherwise a retryable upstream error that keeps the abort as its cause.
 */
export function abortError(provider: string, signal: AbortSignal): GatewayError {
  const reason: unknown = signal.reason;
  if (reason instanceof GatewayError) return reason;
  return new UpstreamError(provider, `Request to provider '${provider}' was aborted.`, { code: 'upstream_aborted', cause: reason });
}

function describeCause(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const inner = (err as { cause?: unknown }).cause;
  const innerCode = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
  const parts = [typeof code === 'string' ? code : undefined, typeof innerCode === 'string' ? innerCode : undefined];
  return parts.filter((p): p is string => p !== undefined).join(', ') || err.message;
}
