/**
 * Model resolution and target fallback. Pure logic: adapters are called through a function the app
 * passes in, so this file knows nothing of HTTP or providers' wire formats.
 */
import type { ModelConfig, TargetConfig, TollgateConfig } from './config';
import { GatewayError, ModelNotFoundError, UnsupportedParameterError, UpstreamError, UpstreamTimeoutError, toGatewayError } from './errors';

export interface ResolvedModel {
  /** What the client asked for. */
  name: string;
  config: ModelConfig;
}

const DIRECT_DEFAULTS = { timeoutMs: 60_000, retries: 0 } as const;

/** An alias from `models`, or `provider/upstream-model` for any configured provider. */
export function resolveModel(config: TollgateConfig, name: string): ResolvedModel {
  // Own properties only: a model named `constructor` or `__proto__` must not resolve to Object.prototype's.
  const alias = Object.hasOwn(config.models, name) ? config.models[name] : undefined;
  if (alias) return { name, config: alias };
  const slash = name.indexOf('/');
  if (slash > 0 && config.server.allowDirectProviderModels) {
    const provider = name.slice(0, slash);
    const model = name.slice(slash + 1);
    if (Object.hasOwn(config.providers, provider) && model.length > 0) {
      return {
        name,
        config: { targets: [{ provider, model, ...DIRECT_DEFAULTS }] },
      };
    }
  }
  throw new ModelNotFoundError(name);
}

export interface AttemptInfo {
  target: TargetConfig;
  /** 1-based attempt number across all targets. */
  attempt: number;
  /** Aborts when the client leaves or this attempt's time budget runs out. */
  signal: AbortSignal;
}

export interface FallbackResult<T> {
  value: T;
  target: TargetConfig;
  attempts: number;
  /** True when a target other than the first one served. */
  fallback: boolean;
}

export interface FallbackOptions {
  clientSignal: AbortSignal;
  retryBaseDelayMs: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
  /** Called for every failed attempt (logging, metrics). */
  onAttemptFailed?: (target: TargetConfig, error: GatewayError) => void;
}

export class ClientAbortedError extends GatewayError {
  constructor() {
    super(499, 'invalid_request_error', 'The client closed the request.', { code: 'client_closed_request' });
  }
}

/**
 * Try each target in order; retry the same target with jittered backoff where configured; fall back on
 * connection errors, timeouts before the first byte, 408/409/429/5xx. A non-retryable error (the client's
 * own mistake, e.g. 400) stops immediately: another provider would reject it too. A target that cannot
 * honour a field of the request (UnsupportedParameterError, raised before any network call) is skipped
 * (the app's pipeline already left such targets out before admission; this is the backstop).
 * `attempt` must resolve only once the first byte is in hand (see the stream relay), so that nothing has
 * reached the client before a fallback.
 */
export async function runWithFallback<T>(
  targets: ReadonlyArray<TargetConfig>,
  attempt: (info: AttemptInfo) => Promise<T>,
  opts: FallbackOptions,
): Promise<FallbackResult<T>> {
  const random = opts.random ?? Math.random;
  let attempts = 0;
  let lastError: GatewayError | undefined;
  for (let ti = 0; ti < targets.length; ti++) {
    const target = targets[ti];
    for (let retry = 0; retry <= target.retries; retry++) {
      if (opts.clientSignal.aborted) throw new ClientAbortedError();
      if (retry > 0) await sleep(backoffMs(opts.retryBaseDelayMs, retry, random), opts.clientSignal);
      attempts++;
      // One controller per attempt, aborted by the client leaving (linked for the whole answer, a stream
      // included) or by the time budget (until the first byte). Cheaper than AbortSignal.any.
      const controller = new AbortController();
      const signal = controller.signal;
      let timeoutError: UpstreamTimeoutError | undefined;
      const timer = setTimeout(() => {
        timeoutError = new UpstreamTimeoutError(target.provider, target.timeoutMs);
        controller.abort(timeoutError);
      }, target.timeoutMs);
      const onClientAbort = () => controller.abort(opts.clientSignal.reason);
      if (opts.clientSignal.aborted) onClientAbort();
      else opts.clientSignal.addEventListener('abort', onClientAbort, { once: true });
      try {
        const value = await raceAbort(attempt({ target, attempt: attempts, signal }), signal);
        return { value, target, attempts, fallback: ti > 0 };
      } catch (err) {
        opts.clientSignal.removeEventListener('abort', onClientAbort);
        if (opts.clientSignal.aborted) throw new ClientAbortedError();
        const error = timeoutError ?? toGatewayError(err);
        opts.onAttemptFailed?.(target, error);
        // A target that cannot honour a field is skipped (no retries on it); if none can, the client gets the 400.
        if (error instanceof UnsupportedParameterError) {
          lastError ??= error;
          break;
        }
        lastError = error;
        if (!isFallbackWorthy(error)) throw error;
      } finally {
        clearTimeout(timer);
      }
    }
  }
  throw lastError ?? new GatewayError(502, 'upstream_error', 'No target could serve the request.', { code: 'no_target' });
}

function isFallbackWorthy(error: GatewayError): boolean {
  if (error instanceof UpstreamError) return error.retryable;
  // Our own 5xx (e.g. a provider key that is not configured) is worth trying elsewhere.
  return error.status >= 500;
}

/** Full jitter on an exponential base: spreads retries from many containers apart. */
export function backoffMs(baseMs: number, retry: number, random: () => number): number {
  const ceiling = baseMs * 2 ** (retry - 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** Some SDKs ignore abort until their own socket notices; the race makes the timeout exact. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
