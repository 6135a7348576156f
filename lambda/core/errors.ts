/**
 * One error hierarchy for the whole gateway, serialised one way: OpenAI's
 * `{"error":{"message","type","param","code"}}`. Modelled on openai-node's
 * `APIError` family: every error knows its HTTP status, type and code.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

export interface OpenAIErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export interface GatewayErrorOptions {
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (e.g. `retry-after`, `x-ratelimit-*`). */
  readonly headers: Record<string, string>;

  constructor(status: number, type: ErrorType, message: string, opts: GatewayErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class BadRequestError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(400, 'invalid_request_error', message, opts);
  }
}

/**
 * A field this provider cannot honour (e.g. `seed` on Anthropic). Thrown by an adapter's (or a surface's)
 * mapping before any network call; the pipeline runs those checks for every target before admission, so
 * such a target is skipped without an attempt, and a request no target can honour is a 400 never metered.
 */
export class UnsupportedParameterError extends BadRequestError {
  constructor(provider: string, param: string, detail?: string) {
    super(`Provider '${provider}' does not support '${param}'${detail ? `: ${detail}` : ''}.`, { param, code: 'unsupported_parameter' });
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super(413, 'invalid_request_error', `Request body exceeds the limit of ${limitBytes} bytes.`, {
      code: 'request_too_large',
    });
  }
}

/**
 * A body not declared as JSON. OpenAI answers `unsupported_content_type` (with a 400); the status here is
 * HTTP's own for it, 415, with OpenAI's code, so clients that switch on the code see the same thing.
 */
export class UnsupportedMediaTypeError extends GatewayError {
  constructor(contentType: string) {
    const shown = /^[\x20-\x7e]{0,100}$/.test(contentType) ? `'${contentType}'` : 'this';
    super(
      415,
      'invalid_request_error',
      `Unsupported content type: ${shown}. This endpoint only accepts JSON bodies: send the header 'Content-Type: application/json' (with curl: -H 'Content-Type: application/json').`,
      { code: 'unsupported_content_type' },
    );
  }
}

export class AuthenticationError extends GatewayError {
  constructor(message = 'Invalid or missing API key.', opts: GatewayErrorOptions = {}) {
    super(401, 'authentication_error', message, { code: 'invalid_api_key', ...opts });
  }
}

export class PermissionDeniedError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(403, 'permission_error', message, { code: 'model_not_allowed', ...opts });
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(404, 'invalid_request_error', message, opts);
  }
}

export class ModelNotFoundError extends NotFoundError {
  constructor(model: string) {
    super(`The model '${model}' does not exist or is not configured on this gateway.`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
}

export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, path: string) {
    super(405, 'invalid_request_error', `Method ${method} is not allowed on ${path}.`, { code: 'method_not_allowed' });
  }
}

export class RateLimitError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(429, 'rate_limit_error', message, { code: 'rate_limit_exceeded', ...opts });
  }
}

export class BudgetExceededError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(429, 'insufficient_quota', message, { code: 'insufficient_quota', ...opts });
  }
}

/**
 * The gateway's own store (DynamoDB) did not answer in time at admission: nothing was admitted, nothing
 * is charged, no upstream was called. Retryable, like DynamoDB's own throttling.
 */
export class StoreUnavailableError extends GatewayError {
  constructor(cause: unknown) {
    super(503, 'server_error', 'The gateway could not reach its usage store in time; nothing was charged. Retry shortly.', {
      code: 'store_unavailable',
      headers: { 'retry-after': '1' },
      cause,
    });
  }
}

/** A store failure before admission completed becomes a clear 503; the gateway's own refusals pass through. */
export function admissionStoreError(err: unknown): never {
  throw err instanceof GatewayError ? err : new StoreUnavailableError(err);
}

/**
 * An upstream provider answered with an error, or could not be reached.
 * `upstreamStatus` is what the provider said (undefined for connection errors and timeouts);
 * `status` is what the gateway tells its client.
 */
export class UpstreamError extends GatewayError {
  readonly upstreamStatus: number | undefined;
  readonly retryable: boolean;
  readonly provider: string;
  /** The upstream's own words, already redacted: for the log only, never for the client. */
  readonly detail: string | undefined;

  constructor(
    provider: string,
    message: string,
    opts: GatewayErrorOptions & { upstreamStatus?: number; retryable?: boolean; status?: number; type?: ErrorType; detail?: string } = {},
  ) {
    const upstreamStatus = opts.upstreamStatus;
    const status = opts.status ?? statusForUpstream(upstreamStatus);
    super(status, opts.type ?? defaultUpstreamType(status), message, {
      code: opts.code ?? (upstreamStatus === undefined ? 'upstream_unavailable' : `upstream_${upstreamStatus}`),
      param: opts.param,
      cause: opts.cause,
    });
    this.provider = provider;
    this.detail = opts.detail;
    this.upstreamStatus = upstreamStatus;
    this.retryable = opts.retryable ?? isRetryableStatus(upstreamStatus);
  }
}

export class UpstreamTimeoutError extends UpstreamError {
  constructor(provider: string, timeoutMs: number) {
    super(provider, `Provider '${provider}' did not respond within ${timeoutMs} ms.`, {
      status: 504,
      type: 'timeout_error',
      code: 'upstream_timeout',
      retryable: true,
    });
  }
}

function defaultUpstreamType(status: number): ErrorType {
  if (status === 504) return 'timeout_error';
  if (status === 429) return 'rate_limit_error';
  return status < 500 ? 'invalid_request_error' : 'upstream_error';
}

/** Fallback-worthy: connection errors (no status), 408, 409, 429 and 5xx. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * What the client sees for an upstream status. A client mistake the provider caught (400, 404, 413, 422)
 * is the client's error; the provider rejecting *our* credentials (401/403) is a gateway misconfiguration,
 * so the client gets 502 and no hint of the key.
 */
function statusForUpstream(upstreamStatus: number | undefined): number {
  if (upstreamStatus === undefined) return 502;
  if (upstreamStatus === 429) return 429;
  if (upstreamStatus === 401 || upstreamStatus === 403) return 502;
  if (upstreamStatus >= 400 && upstreamStatus < 500) return upstreamStatus === 408 ? 504 : 400;
  return 502;
}

/** Any thrown value → a GatewayError; unknown failures become a 500 whose message leaks nothing. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(500, 'server_error', 'The gateway hit an internal error.', { code: 'internal_error', cause: err });
}
