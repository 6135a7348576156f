/**
 * The RequestObserver behind the Lambda handler and the local server: one structured JSON log line per
 * request and CloudWatch metrics as embedded metric format on stdout (no PutMetricData calls, so no
 * latency and no IAM). Names, units and dimension sets come from the metrics catalog, which the dashboard
 * and alarms read too.
 *
 * `requestEnded` runs once per request, so it writes its line itself: the request log fields (in
 * Powertools Logger's format, honouring its level and service) and, in the same JSON object, the EMF
 * directives of the request, attribution and (on error) error-class groups, sharing their values
 * (request-document.ts); one JSON.stringify, one `process.stdout.write`. Through Powertools it was one
 * Logger line and two or three Metrics documents, each with its own serialisation, write, env reads and
 * stores: requestEnded was 9.8 % of the local gateway's main-thread CPU, the one line is 3.0 %
 * (`CHUNKS=1 PROFILE_OUT=<dir> npx tsx bench/profile-path.ts full 1500 stream 5`, inclusive share of
 * requestEnded in the profile, main at cce34b4 against this, 2026-12-02; serialisation 0.8 %, the write
 * 0.8 %, the rest building the line and pricing); the gateway's whole CPU per request, requests
 * alternating between the two builds (`TOLLGATE_BENCH_TRACE=1 npx tsx bench/ab-compare.ts 98b870f full
 * 2000`), went 10.74 → 10.51 ms (CHUNKS=1: 11.02 → 10.73 ms), and the line is 1,594 B instead of 1,742 B
 * in three lines (`npx tsx bench/log-bytes.ts`). The rare paths (rejected, attemptFailed, internalError,
 * budgetUtilization, flush) keep Powertools Logger and Metrics, whose cost does not matter there.
 *
 * The hooks are synchronous, so a document's dimension values cannot mix with a concurrent request's.
 * `requestEnded` runs right after the answer's end, inside the work the pipeline hands to waitUntil (with
 * the settlement), which the Lambda handler awaits before its invocation ends, so nothing is left to lose
 * when a streaming invocation ends. `flush()` publishes whatever is still buffered on the Metrics instance.
 */
import { getBooleanFromEnv, getNumberFromEnv, getXRayTraceIdFromEnv, isDevMode } from '@aws-lambda-powertools/commons/utils/env';
import { Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { TollgateConfig } from '../core/config';
import { UpstreamError, type GatewayError } from '../core/errors';
import type { Attribution, RequestOutcome } from '../core/gatekeeper';
import {
  Dim,
  METRICS,
  NO_TARGET,
  SERVICE,
  dimensionValue,
  metricGroups,
  metricsNamespace,
  type DimensionName,
  type ErrorClass,
  type MetricGroup,
  type MetricKey,
} from '../core/metrics-catalog';
import { costMicros, priceFor } from '../core/pricing';
import { redactSecrets } from '../core/redact';
import type { RequestEndedEvent, RequestObserver, RequestRejectedEvent } from './observer';
import { documentLines, emfMembers, type DocumentFields } from './request-document';

/** Prompt and completion text, if the app ever attaches it to the ended event. Logged only when allowed. */
export interface RequestContent {
  prompt?: string;
  completion?: string;
}

export interface TelemetryOptions {
  config: TollgateConfig;
  /** The `Service` dimension and log service name: the stack name in AWS; default `tollgate`. */
  service?: string;
  /**
   * Defaults to a Logger with the service name, whose level the request line honours but which it does not
   * go through (see the header). An injected Logger writes the request line itself, in its own format.
   */
  logger?: Logger;
  /**
   * Defaults to a Metrics instance on the catalog's namespace; its default dimensions become `{ Service }`.
   * It publishes every group but requestEnded's, which telemetry writes itself on the config's namespace.
   */
  metrics?: Metrics;
  /**
   * Whether a request's prompt and completion may be logged. Default: only when the attribution carries
   * `logContent: true` (the key owner's opt-in). Content is never logged otherwise.
   */
  logContent?: (attribution: Attribution) => boolean;
  /**
   * Request cost in integer micro-dollars, used when the outcome does not carry `costMicros` itself.
   * Default: list price of the served target from `config.pricing` and the built-in catalog.
   */
  costMicros?: (outcome: RequestOutcome, attribution: Attribution) => number | undefined;
}

export interface Telemetry {
  observer: RequestObserver;
  /** Publish metrics still buffered. Call after the response and its stream ended, before the handler returns. */
  flush(): void;
  /** Report a watched budget's utilisation (percent); budgets not in `observability.watchedBudgets` are ignored. */
  budgetUtilization(budget: string, percent: number): void;
}

export function createTelemetry(opts: TelemetryOptions): Telemetry {
  const { config } = opts;
  const service = opts.service || SERVICE;
  const logger = opts.logger ?? new Logger({ serviceName: service });
  const namespace = metricsNamespace(config.observability);
  const metrics = opts.metrics ?? new Metrics({ namespace, serviceName: service });
  // Powertools names its default dimension `service`; the catalog's aggregate set is `Service`.
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ [Dim.Service]: service });
  const groups = metricGroups(config.observability);
  // requestEnded's groups: one EMF document, one directive each (request-document.ts).
  const requestGroups = groupsOf(groups.request, groups.attribution);
  const requestGroupsOnError = groupsOf(groups.request, groups.attribution, groups.errorClass);
  // Our own Logger's line is written by requestEnded itself; an injected one, or dev mode's pretty
  // printing, goes through Powertools.
  const ownLogger = opts.logger === undefined && !isDevMode() && utcTimestamps();
  const samplingRate = ownLogger ? loggerSampleRate() : undefined;
  // Our Logger is private and nothing calls setLogLevel on it (its sampling decision is made in its
  // constructor), so its level is read once: the getter reads the environment on every call.
  const logThreshold = logger.level;
  const metricsOff = metricsDisabled();
  const watched = new Set(config.observability.watchedBudgets);
  const mayLogContent = opts.logContent ?? ((a: Attribution) => a.logContent === true);
  const priceOf = opts.costMicros ?? ((o: RequestOutcome) => listPriceMicros(config, o));

  function publish(group: MetricGroup, dims: Partial<Record<DimensionName, string>>, values: Partial<Record<MetricKey, number>>): void {
    try {
      for (const set of group.dimensionSets) {
        const named: Record<string, string> = {};
        for (const name of set) if (name !== Dim.Service) named[name] = dims[name] ?? NO_TARGET;
        // An empty set still becomes its own dimension set: the default dimensions alone, i.e. [Service].
        metrics.addDimensions(named);
      }
      let stored = false;
      for (const key of group.metrics) {
        const value = values[key];
        if (value === undefined || !Number.isFinite(value)) continue;
        metrics.addMetric(METRICS[key].name, METRICS[key].unit, value);
        stored = true;
      }
      if (stored) metrics.publishStoredMetrics();
      else metrics.clearDimensions();
    } catch (err) {
      metrics.clearMetrics();
      metrics.clearDimensions();
      logger.warn('metrics not published', { error: describeError(err) });
    }
  }

  /** Telemetry must never break a response: every hook swallows (and reports) its own failures. */
  function guarded<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        fn(...args);
      } catch (err) {
        try {
          logger.warn('telemetry hook failed', { hook: name, error: describeError(err) });
        } catch {
          // Nothing left to report with.
        }
      }
    };
  }

  function requestEnded(event: RequestEndedEvent): void {
    const { outcome, attribution } = event;
    const errorClass = classifyOutcome(outcome);
    const cost = costMicrosOf(outcome, attribution, priceOf);
    const costUsd = cost === undefined ? undefined : cost / 1e6;
    const usage = outcome.usage;
    const carried = (event as RequestEndedEvent & { content?: RequestContent }).content;
    const content = carried && mayLogContent(attribution) ? carried : undefined;
    const level = errorClass ? LogLevelThreshold.WARN : LogLevelThreshold.INFO;
    const now = Date.now();
    // Built only when it will be written (an injected Logger decides itself); the first six fields are the
    // ones Powertools Logger adds.
    const log: DocumentFields | undefined =
      ownLogger && level < logThreshold
        ? undefined
        : {
            level: errorClass ? 'WARN' : 'INFO',
            message: 'request',
            timestamp: new Date(now).toISOString(),
            service,
            sampling_rate: samplingRate,
            xray_trace_id: getXRayTraceIdFromEnv(),
            requestId: event.requestId,
            keyId: attribution.keyId,
            keyName: attribution.keyName,
            team: attribution.team,
            feature: attribution.feature,
            customer: attribution.customer,
            environment: attribution.environment,
            model: event.model,
            provider: outcome.provider,
            upstreamModel: outcome.upstreamModel,
            status: outcome.status,
            httpStatus: outcome.httpStatus,
            errorCode: outcome.errorCode,
            errorClass,
            stream: outcome.stream,
            inputTokens: usage?.inputTokens,
            outputTokens: usage?.outputTokens,
            cachedTokens: usage?.cacheReadTokens,
            cacheWriteTokens: usage?.cacheWriteTokens,
            reasoningTokens: usage?.reasoningTokens,
            usageEstimated: outcome.usageEstimated,
            costMicros: cost,
            costUsd,
            ttftMs: outcome.ttftMs,
            latencyMs: outcome.totalMs,
            attempts: outcome.attempts,
            fallback: outcome.fallback,
            prompt: content?.prompt,
            completion: content?.completion,
          };

    const emf = metricsOff
      ? undefined
      : emfMembers(
          namespace,
          errorClass ? requestGroupsOnError : requestGroups,
          {
            [Dim.Service]: service,
            [Dim.Model]: dimensionValue(outcome.upstreamModel, NO_TARGET),
            [Dim.Provider]: dimensionValue(outcome.provider, NO_TARGET),
            [Dim.Feature]: dimensionValue(attribution.feature),
            [Dim.Team]: dimensionValue(attribution.team),
            [Dim.ErrorClass]: errorClass,
          },
          {
            requests: 1,
            errors: errorClass ? 1 : 0,
            fallbacks: outcome.fallback ? 1 : 0,
            inputTokens: usage?.inputTokens ?? 0,
            outputTokens: usage?.outputTokens ?? 0,
            cachedTokens: usage?.cacheReadTokens ?? 0,
            costUsd,
            latency: outcome.totalMs,
            timeToFirstToken: outcome.ttftMs,
            unpricedRequests: servedUnpriced(config, outcome) ? 1 : 0,
          },
          now,
        );

    if (ownLogger) {
      const text = documentLines(log, emf);
      if (text) process.stdout.write(text);
      return;
    }
    // An injected Logger keeps its own format (formatter, persistent keys, buffering): it writes the line.
    if (log) {
      const { level: _level, message: _message, timestamp: _timestamp, service: _service, sampling_rate: _rate, xray_trace_id: _trace, ...fields } = log;
      if (errorClass) logger.warn('request', fields);
      else logger.info('request', fields);
    }
    if (emf) process.stdout.write(documentLines(undefined, emf));
  }

  function rejected(event: RequestRejectedEvent): void {
    // A client that left before its request was read (499) is no error, as a stream it abandons is none.
    const aborted = event.error.status === 499;
    const kind = classifyRejection(event.error);
    const error = !aborted && kind !== 'rate_limited' && kind !== 'budget';
    logger.info('request rejected', {
      requestId: event.requestId,
      model: event.model,
      httpStatus: event.error.status,
      errorType: event.error.type,
      errorCode: event.error.code ?? undefined,
      rejection: aborted ? 'client_abort' : kind,
    });
    publish(groups.rejection, {}, {
      requests: 1,
      errors: error ? 1 : 0,
      rateLimited: kind === 'rate_limited' ? 1 : 0,
      budgetRejected: kind === 'budget' ? 1 : 0,
    });
    if (error) publish(groups.errorClass, { [Dim.ErrorClass]: kind }, { errors: 1 });
  }

  function attemptFailed(requestId: string, provider: string, error: GatewayError): void {
    logger.warn('upstream attempt failed', {
      requestId,
      provider,
      httpStatus: error.status,
      errorCode: error.code ?? undefined,
      upstreamStatus: error instanceof UpstreamError ? error.upstreamStatus : undefined,
      retryable: error instanceof UpstreamError ? error.retryable : undefined,
      error: redactSecrets(error.message),
      // The upstream's own words: redacted with the provider key where it was thrown, pattern-redacted again here.
      detail: error instanceof UpstreamError && error.detail ? redactSecrets(error.detail) : undefined,
    });
    publish(groups.attempt, { [Dim.Provider]: dimensionValue(provider, NO_TARGET) }, { upstreamAttemptFailures: 1 });
  }

  function internalError(requestId: string, error: unknown): void {
    logger.error('internal error', { requestId, error: describeError(error) });
    publish(groups.rejection, {}, { errors: 1 });
    publish(groups.errorClass, { [Dim.ErrorClass]: 'internal' }, { errors: 1 });
  }

  return {
    observer: {
      requestEnded: guarded('requestEnded', requestEnded),
      rejected: guarded('rejected', rejected),
      attemptFailed: guarded('attemptFailed', attemptFailed),
      internalError: guarded('internalError', internalError),
    },
    flush() {
      try {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      } catch (err) {
        logger.warn('metrics flush failed', { error: describeError(err) });
      }
    },
    budgetUtilization: guarded('budgetUtilization', (budget: string, percent: number) => {
      if (!watched.has(budget)) return;
      publish(groups.budget, { [Dim.Budget]: budget }, { budgetUtilization: percent });
    }),
  };
}

/** Why a request ended in error, or undefined when it did not (success, or the client left). */
export function classifyOutcome(outcome: Pick<RequestOutcome, 'status' | 'httpStatus' | 'errorCode'>): ErrorClass | undefined {
  if (outcome.status === 'success' || outcome.status === 'client_abort') return undefined;
  return classifyStatus(outcome.httpStatus, outcome.errorCode);
}

export type RejectionKind = 'rate_limited' | 'budget' | ErrorClass;

/** Throttles (rate limit vs budget) are counted apart from errors; everything else has an error class. */
export function classifyRejection(error: Pick<GatewayError, 'status' | 'type' | 'code'>): RejectionKind {
  if (error.status === 429) return error.type === 'insufficient_quota' || error.code === 'insufficient_quota' ? 'budget' : 'rate_limited';
  return classifyStatus(error.status, error.code ?? undefined);
}

function classifyStatus(status: number, code: string | undefined): ErrorClass {
  if (status === 401 || status === 403) return 'auth';
  if (status === 504 || code === 'upstream_timeout') return 'timeout';
  if (status === 500) return 'internal';
  if (status >= 500 || status === 429) return 'upstream';
  return 'client_error';
}

function listPriceMicros(config: TollgateConfig, outcome: RequestOutcome): number | undefined {
  if (!outcome.usage) return 0;
  if (!outcome.provider || !outcome.upstreamModel) return undefined;
  const price = priceFor(config, outcome.provider, outcome.upstreamModel);
  return price ? costMicros(outcome.usage, price) : undefined;
}

/** Served by a target with no price: metered at $0, which only an opted-in provider allows (core/pricing.ts). */
function servedUnpriced(config: TollgateConfig, outcome: RequestOutcome): boolean {
  return outcome.provider !== undefined && outcome.upstreamModel !== undefined && priceFor(config, outcome.provider, outcome.upstreamModel) === undefined;
}

function costMicrosOf(
  outcome: RequestOutcome,
  attribution: Attribution,
  fallback: NonNullable<TelemetryOptions['costMicros']>,
): number | undefined {
  const carried = (outcome as RequestOutcome & { costMicros?: number }).costMicros;
  if (typeof carried === 'number' && Number.isFinite(carried)) return carried;
  const computed = fallback(outcome, attribution);
  return typeof computed === 'number' && Number.isFinite(computed) ? computed : undefined;
}

function groupsOf(...groups: Array<MetricGroup | undefined>): MetricGroup[] {
  return groups.filter((g): g is MetricGroup => g !== undefined);
}

/**
 * The `sampling_rate` Powertools Logger prints for a Logger built without a sampleRateValue option:
 * POWERTOOLS_LOGGER_SAMPLE_RATE (default 0) when it is a valid rate, else none. Read once, at start, as
 * the Logger does.
 */
function loggerSampleRate(): number | undefined {
  const rate = getNumberFromEnv({ key: 'POWERTOOLS_LOGGER_SAMPLE_RATE', defaultValue: 0 });
  return rate >= 0 && rate <= 1 ? rate : undefined;
}

/** Powertools prints `timestamp` as toISOString() unless TZ names another zone than UTC. */
function utcTimestamps(): boolean {
  const tz = process.env.TZ;
  return !tz || tz.includes('UTC');
}

/**
 * Powertools Metrics' own switch, read once as its constructor reads it: POWERTOOLS_METRICS_DISABLED when
 * set, else dev mode (POWERTOOLS_DEV). requestEnded writes its EMF itself, so it honours the same switch.
 */
function metricsDisabled(): boolean {
  if (process.env.POWERTOOLS_METRICS_DISABLED !== undefined) {
    return getBooleanFromEnv({ key: 'POWERTOOLS_METRICS_DISABLED', defaultValue: false, extendedParsing: true });
  }
  return isDevMode();
}

function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const gw = err as Partial<GatewayError>;
    return {
      name: err.name,
      message: redactSecrets(err.message),
      status: gw.status,
      code: gw.code ?? undefined,
      stack: err.stack ? redactSecrets(err.stack) : undefined,
    };
  }
  return { message: redactSecrets(String(err)) };
}
