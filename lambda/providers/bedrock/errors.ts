/**
 * AWS SDK exceptions (thrown by send(), or as ConverseStream exception events) → UpstreamError, with the
 * HTTP status each stands for, so retryability and the client-facing status follow the same rules as the
 * HTTP providers.
 */
import { GatewayError, UpstreamError } from '../../core/errors';
import { abortError, connectionError, scrubMessage } from '../shared/upstream-errors';

interface ExceptionRule {
  upstreamStatus: number;
  /** Overrides isRetryableStatus(upstreamStatus) where Bedrock's status says less than the exception's name. */
  retryable?: boolean;
  /** What the client sees when not derived from upstreamStatus. */
  status?: number;
}

const RULES: Record<string, ExceptionRule> = {
  ThrottlingException: { upstreamStatus: 429 },
  ServiceQuotaExceededException: { upstreamStatus: 429 },
  ModelNotReadyException: { upstreamStatus: 429 },
  ServiceUnavailableException: { upstreamStatus: 503 },
  InternalServerException: { upstreamStatus: 500 },
  ModelTimeoutException: { upstreamStatus: 408 },
  ModelErrorException: { upstreamStatus: 424, retryable: true, status: 502 },
  ModelStreamErrorException: { upstreamStatus: 424, retryable: true, status: 502 },
  ConflictException: { upstreamStatus: 409 },
  ValidationException: { upstreamStatus: 400 },
  AccessDeniedException: { upstreamStatus: 403 },
  // A model id that is not enabled in this account/region is the gateway's configuration, not the
  // client's mistake: 502, and worth falling back.
  ResourceNotFoundException: { upstreamStatus: 404, retryable: true, status: 502 },
};

/** `throttlingException` (stream event member) and `ThrottlingException` (class name) are the same thing. */
function ruleFor(name: string): ExceptionRule | undefined {
  return RULES[name] ?? RULES[name.charAt(0).toUpperCase() + name.slice(1)];
}

export function bedrockError(provider: string, err: unknown, signal: AbortSignal): GatewayError {
  if (signal.aborted) return abortError(provider, signal);
  if (err instanceof GatewayError) return err;
  if (!(err instanceof Error)) return connectionError(provider, err);
  const rule = ruleFor(err.name);
  const httpStatus = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (!rule && httpStatus === undefined) {
    // TimeoutError, ECONNREFUSED, socket hang up, ...: never reached Bedrock or lost it.
    return connectionError(provider, err);
  }
  const upstreamStatus = rule?.upstreamStatus ?? (httpStatus as number);
  const message =
    upstreamStatus === 403 || upstreamStatus === 401
      ? `Provider '${provider}' was denied access by Bedrock (${err.name}).`
      : `Provider '${provider}' returned ${err.name}: ${scrubMessage(err.message || 'no message')}`;
  return new UpstreamError(provider, message, {
    upstreamStatus,
    ...(rule?.retryable !== undefined ? { retryable: rule.retryable } : {}),
    ...(rule?.status !== undefined ? { status: rule.status } : {}),
    cause: err,
  });
}

/** An exception member of a ConverseStream event (when the SDK yields it instead of throwing). */
export function streamExceptionError(provider: string, member: string, body: { message?: string } | undefined): UpstreamError {
  const rule = ruleFor(member) ?? { upstreamStatus: 500 };
  return new UpstreamError(provider, `Provider '${provider}' reported ${member} mid-stream: ${scrubMessage(body?.message ?? 'no message')}`, {
    upstreamStatus: rule.upstreamStatus,
    ...(rule.retryable !== undefined ? { retryable: rule.retryable } : {}),
    ...(rule.status !== undefined ? { status: rule.status } : {}),
  });
}
