/**
 * The lean DynamoDB client's transport: one operation as one signed `POST /` of the DynamoDB JSON protocol
 * (x-amz-json-1.0) over node:http(s) keep-alive sockets, retried with the SDK's retry strategy, and failing
 * with the errors the SDK throws (lean-errors.ts: the service's exception names, shape ids, `$metadata`,
 * `$fault`, raw AttributeValue `Item`s). Where it sends, as whom and how it retries come from a
 * LeanConnection: an SDK DynamoDBClient's own config (sdkConnection), or what Lambda's environment says
 * (lean-client.ts), which needs no SDK client until the first retryable error.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RetryErrorType, RetryStrategyV2, RetryToken } from '@smithy/types';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Http1Pool } from '../core/http1-pool';
import { DynamoDBServiceException, EXCEPTIONS, type Metadata } from './lean-errors';
import { SigV4Signer, type SigningCredentials } from './lean-sigv4';

type Json = Record<string, unknown>;

/** The sockets and connect timeout a client's requests use (the same pool the SDK path uses, where known). */
export interface LeanSockets {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  /** 0: no connect timeout (the SDK's default). */
  connectionTimeoutMs: number;
  /**
   * The lean transport may open sockets of its own (http1-pool.ts, the cheaper client), as many as
   * `maxSockets`, with these agents' settings being the defaults. Unset when the agents came from someone
   * else's handler (they may carry a proxy, a CA, socket options): then every request goes through them.
   */
  ownSockets?: { maxSockets: number };
}

/** The lean transport's own pools, per sockets setting and endpoint (closed with destroyLeanSockets). */
const pools = new WeakMap<LeanSockets, Map<string, Http1Pool>>();

function poolFor(sockets: LeanSockets, own: { maxSockets: number }, endpoint: Endpoint): Http1Pool {
  let byEndpoint = pools.get(sockets);
  if (!byEndpoint) pools.set(sockets, (byEndpoint = new Map()));
  const key = `${endpoint.https ? 'https' : 'http'}://${endpoint.host}`;
  let pool = byEndpoint.get(key);
  if (!pool) {
    pool = new Http1Pool({
      https: endpoint.https,
      hostname: endpoint.hostname,
      port: endpoint.port,
      maxSockets: own.maxSockets,
      connectTimeoutMs: sockets.connectionTimeoutMs,
      inactivityTimeoutMs: SOCKET_IDLE_TIMEOUT_MS,
    });
    byEndpoint.set(key, pool);
  }
  return pool;
}

function closePools(sockets: LeanSockets): void {
  for (const pool of pools.get(sockets)?.values() ?? []) pool.destroy();
  pools.delete(sockets);
}

/** Closes the sockets a setting's agents and the lean transport's own pools hold. */
export function destroyLeanSockets(sockets: LeanSockets): void {
  sockets.httpAgent.destroy();
  sockets.httpsAgent.destroy();
  closePools(sockets);
}

/** Sockets registered for an SDK request handler (dynamoRequestHandler), so both paths share one pool. */
const registered = new WeakMap<object, LeanSockets>();

export function registerLeanSockets(handler: object, sockets: LeanSockets): void {
  registered.set(handler, sockets);
  // Destroying the SDK client (its handler) closes the lean transport's own sockets too.
  const h = handler as { destroy?: () => void };
  if (typeof h.destroy === 'function') {
    const destroy = h.destroy.bind(handler);
    h.destroy = () => {
      destroy();
      closePools(sockets);
    };
  }
}

/** What a NodeHttpHandler tells about its sockets (httpHandlerConfigs()): read without importing its class. */
interface HandlerConfigs {
  httpAgent?: unknown;
  httpsAgent?: unknown;
  connectionTimeout?: number;
}

/** The SDK's default per-client pool (keep-alive, 50 sockets, no connect timeout) when nothing else is known. */
function socketsFor(client: DynamoDBClient): LeanSockets {
  const handler = client.config.requestHandler;
  const known = registered.get(handler);
  if (known) return known;
  // A NodeHttpHandler that has already sent a request exposes its agents: share them.
  const configs = (handler as { httpHandlerConfigs?: () => HandlerConfigs }).httpHandlerConfigs;
  const resolved: HandlerConfigs = typeof configs === 'function' ? configs.call(handler) : {};
  const agentOptions = { keepAlive: true, maxSockets: 50 };
  const theirs = resolved.httpAgent instanceof HttpAgent || resolved.httpsAgent instanceof HttpsAgent;
  return {
    httpAgent: resolved.httpAgent instanceof HttpAgent ? resolved.httpAgent : new HttpAgent(agentOptions),
    httpsAgent: resolved.httpsAgent instanceof HttpsAgent ? resolved.httpsAgent : new HttpsAgent(agentOptions),
    connectionTimeoutMs: resolved.connectionTimeout ?? 0,
    ...(theirs ? {} : { ownSockets: { maxSockets: agentOptions.maxSockets } }),
  };
}

/** DynamoDB's client sets a 300 s socket inactivity timeout by default (getDefaultSocketTimeout). */
const SOCKET_IDLE_TIMEOUT_MS = 300_000;
/** The SDK re-asks for credentials this long before they expire. */
const CREDENTIAL_REFRESH_MARGIN_MS = 5 * 60_000;


// The SDK's retry classification (@smithy/core/retry: isThrottlingError, isTransientError).
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const NODE_TIMEOUT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
const NODE_NETWORK_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

type SdkLikeError = Error & { code?: string; $metadata?: Metadata; $retryable?: { throttling?: boolean } };

export function retryErrorType(e: SdkLikeError): RetryErrorType {
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (status === 429 || THROTTLING.has(e.name) || e.$retryable?.throttling === true) return 'THROTTLING';
  const transient =
    e.name !== 'AbortError' &&
    (e.$retryable !== undefined || e.$metadata?.clockSkewCorrected === true || TRANSIENT_NAMES.has(e.name) || NODE_TIMEOUT_CODES.has(e.code ?? '') || NODE_NETWORK_CODES.has(e.code ?? '') || TRANSIENT_STATUS.has(status));
  if (transient) return 'TRANSIENT';
  return status >= 500 && status <= 599 ? 'SERVER_ERROR' : 'CLIENT_ERROR';
}

/** B (base64 on the wire) as the SDK hands it out: a Uint8Array, in any AttributeValue at any depth. */
export function decodeBinary(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object') decodeBinary(v);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const o = value as Json;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (k === 'B' && typeof v === 'string') o[k] = fromBase64(v);
    else if (k === 'BS' && Array.isArray(v) && v.every((s) => typeof s === 'string')) o[k] = v.map((s: string) => fromBase64(s));
    else if (v !== null && typeof v === 'object') decodeBinary(v);
  }
}

function fromBase64(s: string): Uint8Array {
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** JSON.stringify replacer: binary (which marshall leaves as Uint8Array/Buffer/ArrayBuffer) as base64. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Json)[key];
  if (ArrayBuffer.isView(raw)) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('base64');
  return value;
}

/**
 * Whether a request input holds binary anywhere (a B or BS attribute value). JSON.stringify with a
 * replacer calls it for every key of every item, which the gateway's profile showed at ~2 % of its CPU;
 * one walk in JS is far cheaper, and inputs without binary (all of the gateway's) then skip the replacer.
 */
function holdsBinary(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (holdsBinary(v)) return true;
    return false;
  }
  for (const k in value) if (holdsBinary((value as Json)[k])) return true;
  return false;
}

function parseBody(text: string): Json {
  if (text.length === 0) return {};
  const body = JSON.parse(text) as Json;
  // Only walk the body when it may carry binary (`"B":` also matches escaped text, which is harmless).
  if (text.includes('"B":') || text.includes('"BS":')) decodeBinary(body);
  return body;
}

interface Endpoint {
  https: boolean;
  hostname: string;
  port: number | undefined;
  /** The Host header (with a non-default port). */
  host: string;
}

/** Where and how a connection sends: resolved once, on its first call. */
export interface LeanTarget {
  region: string;
  /** The endpoint, as the SDK's endpoint rules give it (`https://dynamodb.<region>.amazonaws.com`). */
  url: URL;
  clockSkewCorrection: boolean;
}

/** Credentials, with their expiry when they have one (the SDK's AwsCredentialIdentity). */
export type ExpiringCredentials = SigningCredentials & { readonly expiration?: Date };

/** What the transport needs from the client it stands in for. */
export interface LeanConnection {
  readonly sockets: LeanSockets;
  target(): Promise<LeanTarget>;
  credentials(): Promise<ExpiringCredentials>;
  /** The SDK's retry strategy; `eager`: asked before the first call, else only at the first retryable error. */
  retryStrategy(): Promise<RetryStrategyV2>;
  readonly eagerRetry: boolean;
  /** The clock offset the signer applies (learned from the server's Date header on an error). */
  clockOffset: number;
}

/** A connection that takes everything from an SDK client's resolved config, so both paths agree. */
export function sdkConnection(client: DynamoDBClient): LeanConnection {
  const config = client.config;
  return {
    sockets: socketsFor(client),
    eagerRetry: true,
    get clockOffset() {
      return config.systemClockOffset ?? 0;
    },
    set clockOffset(offset: number) {
      config.systemClockOffset = offset;
    },
    credentials: () => config.credentials(),
    retryStrategy: async () => v2RetryStrategy(await config.retryStrategy()),
    async target() {
      const region = await config.region();
      // As the SDK's endpoint middleware: the client's endpoint, else AWS_ENDPOINT_URL(_DYNAMODB), then the rules.
      let custom: string | undefined;
      if (config.isCustomEndpoint && config.endpoint) {
        const e = await config.endpoint();
        custom = `${e.protocol}//${e.hostname}${e.port ? `:${e.port}` : ''}${e.path}`;
      } else if (!config.ignoreConfiguredEndpointUrls) {
        custom = await (config as { serviceConfiguredEndpoint?: () => Promise<string | undefined> }).serviceConfiguredEndpoint?.();
      }
      const [UseFIPS, UseDualStack] = await Promise.all([config.useFipsEndpoint(), config.useDualstackEndpoint()]);
      const url = new URL(config.endpointProvider({ Region: region, UseFIPS, UseDualStack, Endpoint: custom }).url.href);
      return { region, url, clockSkewCorrection: !(await config.disableClockSkewCorrection()) };
    },
  };
}

interface Resolved {
  endpoint: Endpoint;
  signer: SigV4Signer;
  clockSkewCorrection: boolean;
}

interface Response {
  status: number;
  headers: IncomingMessage['headers'] | Record<string, string>;
  text: string;
}

const isRetryable = (t: RetryErrorType) => t === 'THROTTLING' || t === 'TRANSIENT';

/** `promise`, calling `forget` if it rejects (a memoised promise that must not keep its failure). */
function forgetOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  return promise.catch((err: unknown) => {
    forget();
    throw err;
  });
}

/** A retry strategy the lean transport can drive: the SDK's v2 interface (a custom v1 one is refused). */
export function v2RetryStrategy(retry: object): RetryStrategyV2 {
  if (!('acquireInitialRetryToken' in retry)) throw new Error('lean DynamoDB client: a custom (v1) retry strategy is not supported');
  return retry as RetryStrategyV2;
}

export class LeanDynamoTransport {
  private resolved: Promise<Resolved> | undefined;
  private retry: Promise<RetryStrategyV2> | undefined;
  private credentials: { value: SigningCredentials; refreshAt: number } | undefined;

  constructor(private readonly connection: LeanConnection) {}

  /** The connection's retry strategy, asked once; an ask that failed is forgotten (not every later call's failure). */
  private retryStrategy(): Promise<RetryStrategyV2> {
    return (this.retry ??= forgetOnFailure(this.connection.retryStrategy(), () => (this.retry = undefined)));
  }

  /**
   * One operation, retried like the SDK; resolves the parsed output with `$metadata`. A lazily asked
   * strategy (!eagerRetry) is not consulted before the first retryable error: until then the SDK's
   * standard strategy is in its initial state (full capacity, which successes cannot raise) and refuses
   * every other error without changing state, so skipping it changes nothing.
   */
  async call(operation: string, input: Json, mayHoldBinary = true): Promise<Json> {
    const r = await (this.resolved ??= forgetOnFailure(this.resolve(), () => (this.resolved = undefined)));
    // `mayHoldBinary` false: the caller's marshaller produced every value itself and made no binary (the
    // gateway's writes), so the walk is skipped: a recursive for-in over every item's shapes, which V8
    // deoptimised ("wrong map") and compiled again and again as the item shapes varied (`--trace-deopt`).
    const body = mayHoldBinary && holdsBinary(input) ? JSON.stringify(input, binaryAsBase64) : JSON.stringify(input);
    // A strategy that failed to load (its SDK chunk) is asked again at the next retryable error.
    let retry = this.retry && (await this.retry.catch(() => undefined));
    let token: RetryToken | undefined = retry && (await retry.acquireInitialRetryToken(''));
    let attempts = 0;
    let totalRetryDelay = 0;
    for (;;) {
      try {
        const out = await this.attempt(r, operation, body);
        if (retry && token) retry.recordSuccess(token);
        (out.$metadata as Metadata).attempts = attempts + 1;
        (out.$metadata as Metadata).totalRetryDelay = totalRetryDelay;
        return out;
      } catch (err) {
        // Not `instanceof Error`: node's own errors may come from another realm (jest's sandbox).
        const e = (typeof err === 'object' && err !== null ? err : new Error(String(err))) as SdkLikeError;
        const errorType = retryErrorType(e);
        try {
          if (!retry && isRetryable(errorType)) {
            retry = await this.retryStrategy();
            token = await retry.acquireInitialRetryToken('');
          }
          if (!retry || !token) throw e;
          token = await retry.refreshRetryTokenForRetry(token, { errorType });
        } catch {
          e.$metadata = { ...e.$metadata, attempts: attempts + 1, totalRetryDelay };
          throw e;
        }
        attempts = token.getRetryCount();
        const delay = token.getRetryDelay();
        totalRetryDelay += ((token as { $retryLog?: { acquisitionDelay?: number } }).$retryLog?.acquisitionDelay ?? 0) + delay;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async resolve(): Promise<Resolved> {
    const [{ region, url, clockSkewCorrection }] = await Promise.all([this.connection.target(), this.connection.eagerRetry ? this.retryStrategy() : undefined]);
    return {
      endpoint: { https: url.protocol === 'https:', hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : undefined, host: url.host },
      signer: new SigV4Signer(region, 'dynamodb'),
      clockSkewCorrection,
    };
  }

  private async credentialsNow(): Promise<SigningCredentials> {
    const cached = this.credentials;
    if (cached && Date.now() < cached.refreshAt) return cached.value;
    // The SDK's provider is memoized and refreshes itself; re-ask it only as expiry nears.
    const value = await this.connection.credentials();
    const expires = value.expiration?.getTime();
    this.credentials = { value, refreshAt: expires === undefined ? Number.POSITIVE_INFINITY : expires - CREDENTIAL_REFRESH_MARGIN_MS };
    return value;
  }

  private async attempt(r: Resolved, operation: string, body: string): Promise<Json> {
    const credentials = await this.credentialsNow();
    const offset = this.connection.clockOffset;
    const headers = r.signer.sign({
      host: r.endpoint.host,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
      credentials,
      now: new Date(Date.now() + offset),
    });
    const res = await this.post(r.endpoint, headers, body);
    const $metadata: Metadata = {
      httpStatusCode: res.status,
      requestId: headerOf(res.headers['x-amzn-requestid'] ?? res.headers['x-amzn-request-id'] ?? res.headers['x-amz-request-id']),
      extendedRequestId: headerOf(res.headers['x-amz-id-2']),
      cfId: headerOf(res.headers['x-amz-cf-id']),
    };
    if (res.status >= 300) {
      this.sampleClock(r, headerOf(res.headers.date), offset, $metadata);
      throw serviceError(res, $metadata);
    }
    const out = parseBody(res.text);
    out.$metadata = $metadata;
    return out;
  }

  /**
   * As the SDK's signer on an error: the server's Date header sets the client's clock offset (shared with
   * the SDK path); a correction past 4 minutes marks the error so it is retried with the corrected clock.
   */
  private sampleClock(r: Resolved, date: string | undefined, before: number, $metadata: Metadata): void {
    const serverTime = date === undefined || !r.clockSkewCorrection ? Number.NaN : Date.parse(date);
    if (Number.isNaN(serverTime)) return;
    const offset = serverTime - Date.now();
    this.connection.clockOffset = offset;
    if (Math.abs(offset) >= 240_000 && offset !== before) $metadata.clockSkewCorrected = true;
  }

  private post(endpoint: Endpoint, headers: Record<string, string>, body: string): Promise<Response> {
    const own = this.connection.sockets.ownSockets;
    if (own) {
      return poolFor(this.connection.sockets, own, endpoint)
        .request('POST', '/', headers, body)
        .then(
          (res) => ({ status: res.status, headers: res.headers, text: res.body.toString('utf8') }),
          (err: Error & { code?: string }) => {
            throw asSdkSocketError(err);
          },
        );
    }
    return new Promise<Response>((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (err: Error & { code?: string }) => {
        clearTimeout(connectTimer);
        reject(asSdkSocketError(err));
      };
      const options = { hostname: endpoint.hostname, port: endpoint.port, method: 'POST', path: '/', headers };
      const req = endpoint.https ? httpsRequest({ ...options, agent: this.connection.sockets.httpsAgent }) : httpRequest({ ...options, agent: this.connection.sockets.httpAgent });
      req.on('error', fail);
      const connectMs = this.connection.sockets.connectionTimeoutMs;
      if (connectMs > 0) {
        req.once('socket', (socket) => {
          if (!socket.connecting) return;
          connectTimer = setTimeout(() => {
            req.destroy();
            fail(Object.assign(new Error(`the request socket did not establish a connection with the server within the configured timeout of ${connectMs} ms.`), { name: 'TimeoutError' }));
          }, connectMs);
          socket.once('connect', () => clearTimeout(connectTimer));
        });
      }
      req.setTimeout(SOCKET_IDLE_TIMEOUT_MS, () => {
        const err = Object.assign(new Error(`the request socket timed out after ${SOCKET_IDLE_TIMEOUT_MS} ms of inactivity.`), { name: 'TimeoutError' });
        req.destroy(err);
      });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(connectTimer);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        // A response cut short (socket reset mid-body); after 'end' this is a no-op.
        res.on('close', () => {
          if (!res.complete) fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(body);
    });
  }
}

/** As @smithy/node-http-handler: socket-level failures are TimeoutErrors (transient, retried). */
function asSdkSocketError(err: Error & { code?: string }): Error {
  if (NODE_TIMEOUT_CODES.has(err.code ?? '')) err.name = 'TimeoutError';
  return err;
}

function headerOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The exception the SDK would throw for this error response (class, name, message, $fault, modeled fields). */
function serviceError(res: Response, $metadata: Metadata): DynamoDBServiceException {
  let body: Json = {};
  try {
    body = parseBody(res.text);
  } catch {
    // not JSON (a proxy's page): the status decides
  }
  const type = String(body.__type ?? res.headers['x-amzn-errortype'] ?? res.status);
  const name = type.split(':')[0].split('#').pop() ?? 'UnknownError';
  const message = String(body.message ?? body.Message ?? 'UnknownError');
  const Modeled = EXCEPTIONS[name];
  const error = Modeled
    ? new Modeled({ $metadata, message })
    : new DynamoDBServiceException({ name, $fault: res.status >= 500 ? 'server' : 'client', $metadata, message });
  // As decorateServiceException: body fields the exception lacks are copied onto it (Item, CancellationReasons, __type).
  const target = error as unknown as Json;
  for (const [k, v] of Object.entries(body)) if (v !== undefined && k !== 'Message' && (target[k] === undefined || target[k] === '')) target[k] = v;
  return error;
}
