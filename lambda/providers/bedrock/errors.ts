/**
 * AWS SDK exceptions (thrown by send(), or as ConverseStream exception events) → UpstreamError, with the
 * HTTP status each stands for, so retryability and the client-facing status follow the same rules as the
 * HTTP providers.
 */
import { GatewayError, UpstreamError } from '../../core/errors';
import { abortError, connectionError, upstreamFailure } from '../shared/upstream-errors';

interface ExceptionRule {
  upstreamStatus: number;
  /** Overrides isRetryableStatus(upstreamStatus) where Bedrock's status says less than the exception's name. */
  retryable?: boolean;
  /** What the client sees when not derived from upstreamStatus. */
  status?: number;
  /** Worded as this status in the client's message (a 424 model error is the model failing, not the request). */
  describeAs?: number;
}

const RULES: Record<string, ExceptionRule> = {
  ThrottlingException: { upstreamStatus: 429 },
  ServiceQuotaExceededException: { upstreamStatus: 429 },
  ModelNotReadyException: { upstreamStatus: 429 },
  ServiceUnavailableException: { upstreamStatus: 503 },
  InternalServerException: { upstreamStatus: 500 },
  ModelTimeoutException: { upstreamStatus: 408 },
  ModelErrorException: { upstreamStatus: 424, retryable: true, status: 502, describeAs: 500 },
  ModelStreamErrorException: { upstreamStatus: 424, retryable: true, status: 502, describeAs: 500 },
  ConflictException: { upstreamStatus: 409 },
  ValidationException: { upstreamStatus: 400 },
  AccessDeniedException: { upstreamStatus: 403 },
  // Credentials AWS does not accept (the SDK names them after the 403's error type).
  UnrecognizedClientException: { upstreamStatus: 403 },
  InvalidSignatureException: { upstreamStatus: 403 },
  ExpiredTokenException: { upstreamStatus: 403 },
  // A model id that is not enabled in this account/region is the gateway's configuration, not the
  // client's mistake: 502, and worth falling back.
  ResourceNotFoundException: { upstreamStatus: 404, retryable: true, status: 502 },
};

/** `throttlingException` (stream event member) and `ThrottlingException` (class name) are the same thing. */
function ruleFor(name: string): ExceptionRule | undefined {
  return RULES[name] ?? RULES[name.charAt(0).toUpperCase() + name.slice(1)];
}

/** `midStream`: the stream had started when the SDK threw (its exception events arrive as thrown errors). */
export function bedrockError(provider: string, err: unknown, signal: AbortSignal, midStream = false): GatewayError {
  if (signal.aborted) return abortError(provider, signal);
  if (err instanceof GatewayError) return err;
  if (!(err instanceof Error)) return connectionError(provider, err);
  const rule = ruleFor(err.name);
  const httpStatus = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (!rule && httpStatus === undefined) {
    // TimeoutError, ECONNREFUSED, socket hang up, ...: never reached Bedrock or lost it.
    return connectionError(provider, err);
  }
  return upstreamFailure({
    provider,
    status: rule?.upstreamStatus ?? (httpStatus as number),
    detail: `${err.name}: ${err.message || 'no message'}`,
    midStream,
    ...ruleOptions(rule),
    cause: err,
  });
}

function ruleOptions(rule: ExceptionRule | undefined) {
  return { retryable: rule?.retryable, clientStatus: rule?.status, describeAs: rule?.describeAs };
}

/** An exception member of a ConverseStream event (when the SDK yields it instead of throwing). */
export function streamExceptionError(provider: string, member: string, body: { message?: string } | undefined): UpstreamError {
  const rule = ruleFor(member) ?? { upstreamStatus: 500 };
  return upstreamFailure({
    provider,
    status: rule.upstreamStatus,
    detail: `${member}: ${body?.message ?? 'no message'}`,
    midStream: true,
    ...ruleOptions(rule),
  });
}
