/**
 * Turning upstream failures into the gateway's one error type. Every adapter goes through here so that
 * retryability, status mapping and redaction are decided in one place.
 *
 * What an upstream says is never relayed: its error text can quote the credentials it received, name
 * masked fragments of our key, or expose its internals (paths, stack traces). The client gets a message
 * the gateway writes (which provider, what it answered, what the client can do) with the OpenAI error
 * type and code for it; the upstream's own words go to `detail`, redacted by core/redact.ts, for the log.
 */
import { GatewayError, UpstreamError, type ErrorType } from '../../core/errors';
import { redactSecrets } from '../../core/redact';

/** Kept in the log: enough of an upstream error body to diagnose it. */
const MAX_DETAIL_CHARS = 1_000;

/** The upstream's own words, redacted (provider key and its fragments, credentials, key-shaped strings) and cut short. */
export function upstreamDetail(text: string | undefined, apiKey?: string): string | undefined {
  if (!text) return undefined;
  const clean = redactSecrets(text, [apiKey]);
  return clean.length > MAX_DETAIL_CHARS ? `${clean.slice(0, MAX_DETAIL_CHARS)}…` : clean;
}

interface FailureKind {
  type?: ErrorType;
  code: string;
  /** "Provider 'x' <says> (<status>)." */
  says: string;
  /** What the client can do about it. */
  advice: string;
}

const RETRY = 'Retry the request; if it keeps failing, another model may serve it.';

/** Upstream HTTP status → what the gateway tells its client (status itself: errors.ts statusForUpstream). */
function kindFor(status: number): FailureKind {
  if (status === 401 || status === 403)
    return { code: 'upstream_auth_failed', says: "rejected the gateway's credentials", advice: "The gateway operator must fix this provider's key; retrying will not help." };
  if (status === 429) return { type: 'rate_limit_error', code: 'upstream_rate_limited', says: 'is rate limiting the gateway', advice: 'Retry after a short wait.' };
  if (status === 408 || status === 504) return { code: 'upstream_timeout', says: 'timed out', advice: RETRY };
  if (status === 404)
    return { code: 'upstream_not_found', says: 'does not know the requested model or endpoint', advice: 'Check the model name; the gateway operator may need to fix the upstream model id.' };
  if (status === 413) return { code: 'upstream_request_too_large', says: 'refused the request as too large', advice: 'Shorten the prompt or lower max_tokens.' };
  if (status === 409) return { code: 'upstream_conflict', says: 'reported a conflict', advice: RETRY };
  if (status >= 400 && status < 500)
    return { code: 'upstream_invalid_request', says: 'rejected the request as invalid', advice: "Check the request's parameters against what this model accepts (context length, max_tokens, tools, images)." };
  if (status === 503 || status === 529) return { code: 'upstream_overloaded', says: 'is overloaded', advice: RETRY };
  return { code: 'upstream_server_error', says: 'failed with a server error', advice: RETRY };
}

export interface UpstreamFailure {
  provider: string;
  /** The HTTP status the upstream answered (or the status its error type stands for). */
  status: number;
  /** The upstream's error text, raw: it is redacted here and only ever logged. */
  detail?: string;
  /** The provider key used for this call: redacted from the detail along with any 6+ character fragment. */
  apiKey?: string;
  /** For failures reported inside a stream rather than as a status. */
  midStream?: boolean;
  retryable?: boolean;
  /** What the client sees, when it is not derived from `status` (Bedrock's model errors). */
  clientStatus?: number;
  /** Word the message (and pick the code) as for this status rather than `status` (Bedrock's 424 model errors are server errors). */
  describeAs?: number;
  cause?: unknown;
}

/** An upstream failure with a known status, as the client sees it: gateway-written message, OpenAI type and code. */
export function upstreamFailure(f: UpstreamFailure): UpstreamError {
  const kind = kindFor(f.describeAs ?? f.status);
  const where = f.midStream ? ' in the middle of the answer' : '';
  return new UpstreamError(f.provider, `Provider '${f.provider}' ${kind.says} (${f.status})${where}. ${kind.advice}`, {
    upstreamStatus: f.status,
    code: kind.code,
    ...(kind.type ? { type: kind.type } : {}),
    ...(f.retryable !== undefined ? { retryable: f.retryable } : {}),
    ...(f.clientStatus !== undefined ? { status: f.clientStatus } : {}),
    detail: upstreamDetail(f.detail, f.apiKey),
    cause: f.cause,
  });
}

/**
 * An error `type` reported inside a stream (which carries no HTTP status) → the status it stands for.
 * Anthropic's and OpenAI's type names; anything unknown is a server error.
 */
export function statusForErrorType(type: unknown): number {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
    case 'insufficient_quota':
      return 429;
    case 'timeout_error':
      return 504;
    case 'overloaded_error':
      return 529;
    default:
      return 500;
  }
}

/** An upstream non-2xx answer. */
export function upstreamStatusError(provider: string, status: number, upstreamMessage: string | undefined, apiKey?: string): UpstreamError {
  return upstreamFailure({ provider, status, detail: upstreamMessage, apiKey });
}

/** The upstream could not be reached, or the connection broke. Retryable: another target may work. */
export function connectionError(provider: string, cause: unknown, what = 'could not be reached'): UpstreamError {
  const code = cause instanceof Error ? errorCodes(cause) : '';
  return new UpstreamError(provider, `Provider '${provider}' ${what}${code ? ` (${code})` : ''}. ${RETRY}`, {
    cause,
    detail: cause instanceof Error && !code ? upstreamDetail(cause.message) : undefined,
  });
}

/** The upstream answered something we cannot parse. Not the client's fault, so 502. */
export function malformedResponseError(provider: string, what: string, cause?: unknown): UpstreamError {
  return new UpstreamError(provider, `Provider '${provider}' sent a malformed ${what}. ${RETRY}`, {
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

/** System error codes only (ECONNREFUSED, UND_ERR_SOCKET, ...): never a message that could carry a URL or a key. */
function errorCodes(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const inner = (err as { cause?: unknown }).cause;
  const innerCode = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
  const safe = (c: unknown) => (typeof c === 'string' && /^[A-Z0-9_]{2,40}$/.test(c) ? c : undefined);
  return [safe(code), safe(innerCode)].filter((p): p is string => p !== undefined).join(', ');
}
