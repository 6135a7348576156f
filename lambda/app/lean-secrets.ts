/**
 * The gateway's provider keys from Secrets Manager without the AWS SDK: GetSecretValue as one SigV4-signed
 * `POST /` of Secrets Manager's JSON 1.1 protocol, over the gateway's own keep-alive HTTP client
 * (core/http1-pool.ts), with the store's signer (store/lean-sigv4.ts, service `secretsmanager`).
 *
 * Why not the SDK (through Powertools' getSecret, as before): its client and the Smithy core under it were
 * half of the gateway bundle's bytes (~390 of 758 KB minified), parsed at every cold start, and their module
 * set-up and client construction ran on a cold container's first request. This is the one call the gateway
 * makes to Secrets Manager, so it is written for that call only. When Lambda's environment asks for
 * something only the SDK interprets (a profile, FIPS or dual-stack endpoints, another partition without a
 * custom endpoint: the rules the lean DynamoDB client follows, lean-client.ts), leanSecretsSettingsFromEnv
 * says so and the caller keeps Powertools (a chunk loaded then only).
 *
 * Retries as the SDK's standard mode does for this call: up to 3 attempts on what the SDK classes as
 * throttling or transient (the store transport's retryErrorType: 429 and throttling exceptions, 500/502/
 * 503/504, resets, refused connections and timeouts), with full-jitter exponential backoff. Errors name the service's exception and the
 * HTTP status, never the secret's value.
 */
import { Http1Pool } from '../core/http1-pool';
import { AWS_PARTITION_REGION, SDK_ONLY_ENV, type AwsEnv } from '../store/lean-client';
import { retryErrorType } from '../store/lean-dynamo-http';
import { SigV4Signer, type SigningCredentials } from '../store/lean-sigv4';

export type SecretsEnv = AwsEnv & { readonly AWS_ENDPOINT_URL_SECRETS_MANAGER?: string };

export interface LeanSecretsSettings {
  region: string;
  /** A custom endpoint (tests, a VPC endpoint's URL); by default the region's. */
  endpoint?: string;
  credentials: SigningCredentials;
}

export interface LeanSecretsOptions {
  /** Attempts in all (the SDK's standard mode: 3). */
  maxAttempts?: number;
  /** Backoff base: a retry waits a random time up to base × 2^retry (capped at 20 s). */
  baseDelayMs?: number;
  /** A call with no socket activity for this long fails (and is retried). */
  inactivityTimeoutMs?: number;
  connectTimeoutMs?: number;
  random?: () => number;
}

/**
 * Region and credentials as Lambda provides them, the endpoint as the SDK reads it from the environment
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER, then AWS_ENDPOINT_URL), else the region's; undefined when the
 * environment asks for anything the SDK would interpret and this reader does not.
 */
export function leanSecretsSettingsFromEnv(env: SecretsEnv): LeanSecretsSettings | undefined {
  const { AWS_REGION: region, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  const endpoint = env.AWS_ENDPOINT_URL_SECRETS_MANAGER || env.AWS_ENDPOINT_URL || undefined;
  if (!region || !accessKeyId || !secretAccessKey) return undefined;
  if (!endpoint && !AWS_PARTITION_REGION.test(region)) return undefined;
  if (SDK_ONLY_ENV.some((name) => env[name] !== undefined && env[name] !== '')) return undefined;
  return { region, endpoint, credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined } };
}

/** Secrets Manager refused or failed the call: its exception's name (e.g. ResourceNotFoundException) and status. */
export class SecretsManagerError extends Error {
  /** As the SDK's errors carry it, so retryErrorType reads the status. */
  readonly $metadata: { httpStatusCode: number };
  /** Set on an answer that is retried whatever its status (the SDK's marker for transient errors). */
  readonly $retryable?: object;

  constructor(name: string, message: string, status: number, opts: { retryable?: boolean } = {}) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
    if (opts.retryable) this.$retryable = {};
  }

  get status(): number {
    return this.$metadata.httpStatusCode;
  }

  get retryable(): boolean {
    return isRetryable(this);
  }
}

/** What the SDK's standard retry strategy retries. */
function isRetryable(err: unknown): boolean {
  const e = (typeof err === 'object' && err !== null ? err : new Error(String(err))) as Parameters<typeof retryErrorType>[0];
  const type = retryErrorType(e);
  return type === 'THROTTLING' || type === 'TRANSIENT';
}

const MAX_BACKOFF_MS = 20_000;

export class LeanSecretsReader {
  private readonly pool: Http1Pool;
  private readonly signer: SigV4Signer;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly random: () => number;

  constructor(
    private readonly settings: LeanSecretsSettings,
    opts: LeanSecretsOptions = {},
  ) {
    const url = new URL(settings.endpoint ?? `https://secretsmanager.${settings.region}.amazonaws.com`);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`Secrets Manager endpoint ${url.origin} is not http(s)`);
    this.pool = new Http1Pool({
      https: url.protocol === 'https:',
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : undefined,
      maxSockets: 4,
      connectTimeoutMs: opts.connectTimeoutMs ?? 3_000,
      inactivityTimeoutMs: opts.inactivityTimeoutMs ?? 5_000,
      // Secrets Manager closes idle connections; a read every few minutes opens a fresh one.
      idleTimeoutMs: 4_000,
    });
    this.signer = new SigV4Signer(settings.region, 'secretsmanager');
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.random = opts.random ?? Math.random;
  }

  /** The secret's current value as text (SecretString, or SecretBinary decoded as UTF-8). */
  async secretString(secretId: string): Promise<string> {
    const body = JSON.stringify({ SecretId: secretId });
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(body);
      } catch (err) {
        if (!isRetryable(err) || attempt >= this.maxAttempts) throw err;
        const delay = this.random() * Math.min(MAX_BACKOFF_MS, this.baseDelayMs * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Closes the reader's sockets. */
  destroy(): void {
    this.pool.destroy();
  }

  private async attempt(body: string): Promise<string> {
    const headers = this.signer.sign({
      host: this.pool.hostHeader,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
      credentials: this.settings.credentials,
      now: new Date(),
    });
    const res = await this.pool.request('POST', '/', headers, body);
    const text = res.body.toString('utf8');
    if (res.status >= 300) throw serviceError(res.status, text);
    let out: { SecretString?: unknown; SecretBinary?: unknown };
    try {
      out = JSON.parse(text) as typeof out;
    } catch {
      throw new SecretsManagerError('MalformedResponse', `Secrets Manager answered ${res.status} with a body that is not JSON`, res.status, { retryable: true });
    }
    if (typeof out.SecretString === 'string') return out.SecretString;
    if (typeof out.SecretBinary === 'string') return Buffer.from(out.SecretBinary, 'base64').toString('utf8');
    throw new SecretsManagerError('MalformedResponse', 'Secrets Manager answered without SecretString or SecretBinary', res.status);
  }
}

/** The exception an error response names (`__type`, `code` or `x-amzn-errortype`-style `name#...`), with its message. */
function serviceError(status: number, text: string): SecretsManagerError {
  let name = `Http${status}`;
  let message = '';
  try {
    const body = JSON.parse(text) as { __type?: unknown; code?: unknown; message?: unknown; Message?: unknown };
    const type = typeof body.__type === 'string' ? body.__type : typeof body.code === 'string' ? body.code : undefined;
    // `com.amazonaws.secretsmanager#ResourceNotFoundException` or the bare name (and `Name:http://...` forms).
    if (type) name = type.split('#').pop()!.split(':')[0] || name;
    const m = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
    message = m;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return new SecretsManagerError(name, `Secrets Manager GetSecretValue failed: ${name} (HTTP ${status})${message ? `: ${message.slice(0, 300)}` : ''}`, status);
}

export interface SecretCacheOptions {
  /**
   * A call that finds the value this close to its max age returns it at once and refreshes it in the
   * background, so no request waits on Secrets Manager while requests keep coming (default: a fifth of the
   * max age).
   */
  refreshAheadMs?: number;
  /**
   * When a value past its max age cannot be fetched (Secrets Manager down, throttled, the call timing out),
   * the last value is still served while it is younger than this (default 1 hour): the provider keys do not
   * go away with Secrets Manager. Past it, the failure is the caller's.
   */
  maxStaleMs?: number;
  /** After a failed background refresh, the next one waits this long (default 10 s). */
  retryAfterMs?: number;
  /** A fetch that failed while a value was still served (never carries the secret: see secretsError). */
  onStaleError?: (err: unknown) => void;
}

/**
 * A secret's JSON value, fetched at most once per `maxAgeMs` (Powertools getSecret's maxAge, as before):
 * concurrent callers share one fetch, and a failed fetch is not kept. Unlike getSecret, a value near its max
 * age is refreshed ahead in the background (the request that finds it so does not wait), and a value past it
 * whose fetch fails is still served for a while (SecretCacheOptions). Only the first call, and one after the
 * container sat idle past the max age, wait for Secrets Manager.
 */
export function cachedSecretJson(
  read: () => Promise<string>,
  maxAgeMs: number,
  now: () => number = Date.now,
  opts: SecretCacheOptions = {},
): () => Promise<Record<string, unknown>> {
  const refreshAheadMs = opts.refreshAheadMs ?? maxAgeMs / 5;
  const maxStaleMs = opts.maxStaleMs ?? 3_600_000;
  const retryAfterMs = opts.retryAfterMs ?? 10_000;
  let cached: { value: Record<string, unknown>; at: number } | undefined;
  let inFlight: Promise<Record<string, unknown>> | undefined;
  // When the last fetch failed while a value could still be served (cleared by a fetch that succeeds): until
  // retryAfterMs later no fetch is started, and no caller waits for one that is likely to fail too.
  let failedAt: number | undefined;
  const servable = (t: number) => cached !== undefined && t - cached.at < maxStaleMs;
  // One fetch shared by every caller; its failure is handled here once (one onStaleError per failed read).
  const load = (): Promise<Record<string, unknown>> =>
    (inFlight ??= read()
      .then((text) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Never the text itself in the error: it is the secret.
          throw new SecretsManagerError('InvalidSecretJson', 'The provider-keys secret is not JSON (expected an object with a key per provider id)', 200);
        }
        const value = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
        cached = { value, at: now() };
        failedAt = undefined;
        return value;
      })
      .catch((err: unknown) => {
        const t = now();
        if (servable(t)) {
          failedAt = t;
          opts.onStaleError?.(err);
        }
        throw err;
      })
      .finally(() => {
        inFlight = undefined;
      }));
  return () => {
    const t = now();
    const age = cached ? t - cached.at : Infinity;
    if (cached && (age < maxAgeMs || (failedAt !== undefined && age < maxStaleMs))) {
      if (age >= maxAgeMs - refreshAheadMs && !inFlight && (failedAt === undefined || t >= failedAt + retryAfterMs)) load().catch(() => undefined);
      return Promise.resolve(cached.value);
    }
    return load().catch((err: unknown) => {
      if (!servable(now())) throw err;
      return cached!.value;
    });
  };
}
