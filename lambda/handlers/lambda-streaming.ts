/**
 * The Lambda response-streaming contract (`awslambda.streamifyResponse` + `HttpResponseStream.from`),
 * typed, and the adapter that runs the fetch-style app behind an API Gateway REST proxy event.
 * The runtime provides `awslambda` as a global; tests provide an emulation of the same contract.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { Writable } from 'node:stream';
import { drained } from '../app/drained';
import { bodyReader, hasBody, type BodyReader } from '../app/relay';
import type { GatewayApp, GatewayRequest } from '../app/gateway-app';

export interface HttpResponseMetadata {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

export interface AwsLambdaGlobal {
  streamifyResponse(
    handler: (event: APIGatewayProxyEvent, responseStream: Writable, context: Context) => Promise<void>,
  ): unknown;
  HttpResponseStream: { from(stream: Writable, metadata: Record<string, unknown>): Writable };
}

/** The runtime's `awslambda` global (typed by @types/aws-lambda; read loosely so tests can install an emulation). */
export function lambdaGlobal(): AwsLambdaGlobal {
  const g = (globalThis as { awslambda?: AwsLambdaGlobal }).awslambda;
  if (!g) throw new Error('awslambda global missing: not running in the Lambda Node.js runtime');
  return g;
}

/**
 * API Gateway REST proxy event → the app's request. The body is already text in the event (or base64 of
 * binary): it is handed over as such, with no WHATWG Request and no body stream to build and read back
 * (~4 % of a warm invocation's CPU, bench/lambda-calls.ts PROFILE). Bytes that are not UTF-8 decode as
 * U+FFFD, as a read body does.
 */
export function toGatewayRequest(event: APIGatewayProxyEvent, signal: AbortSignal): GatewayRequest {
  const headers = new Headers();
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    for (const v of values ?? []) headers.append(name, v);
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined && !headers.has(name)) headers.set(name, value);
  }
  const query = new URLSearchParams();
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    for (const v of values ?? []) query.append(name, v);
  }
  const qs = query.toString();
  const host = headers.get('host') ?? 'lambda.local';
  const url = `https://${host}${stagePath(event)}${qs ? `?${qs}` : ''}`;
  const method = event.httpMethod.toUpperCase();
  const bodyText =
    event.body == null || method === 'GET' || method === 'HEAD' ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return { method, url, headers, signal, body: null, ...(bodyText !== undefined ? { bodyText } : {}) };
}

/**
 * The request path relative to the API's stage: the matched `resource` with its path parameters filled
 * in. `event.path` is what the client called, so behind a custom domain with a base path mapping it
 * carries the base path (`/llm/v1/models`) and would match no route; `resource` (`/v1/{proxy+}`) is the
 * same whatever the domain, mapping or stage. Falls back to `event.path` when the event has no resource.
 */
export function stagePath(event: Pick<APIGatewayProxyEvent, 'path' | 'resource' | 'pathParameters'>): string {
  const resource = event.resource;
  if (!resource) return event.path;
  const params = event.pathParameters ?? {};
  let complete = true;
  const filled = resource.replace(/\{([^}+]+)\+?\}/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) {
      complete = false;
      return '';
    }
    return value.split('/').map(encodeURIComponent).join('/');
  });
  return complete ? filled : event.path;
}

/** Time kept back before the Lambda deadline to abort the upstream and settle the request cleanly. */
export const DEADLINE_MARGIN_MS = 5_000;

export interface StreamingHandlerOptions {
  /** Runs after each invocation's response and deferred work are done (e.g. flush metrics). */
  afterInvocation?: () => void | Promise<void>;
}

/**
 * The streaming handler body: run the app, write the prelude (status + headers) then the body chunk by
 * chunk (chunks that arrive in the same tick share one write), and only return once deferred work
 * (settlement, usage writes) has finished, so the container is not frozen with money half-counted.
 * Shortly before the function's deadline the request is aborted, so even a generation longer than the
 * timeout settles its reservation instead of leaking it.
 *
 * `context.callbackWaitsForEmptyEventLoop` stays true on purpose: Lambda's Node runtime then asks for the
 * next invocation (and may freeze the container) only once the event loop is empty, so a store write this
 * container started in the background (a lease top-up) finishes instead of being frozen in flight. The
 * gateway leaves nothing ref'd behind (sockets and timers between invocations are unref'd), so the wait
 * ends with the invocation's own work: test/e2e/lambda-runtime-loop.e2e.test.ts runs the runtime's loop.
 */
export function createStreamingHandler(app: GatewayApp, lambda: AwsLambdaGlobal = lambdaGlobal(), opts: StreamingHandlerOptions = {}) {
  return async (event: APIGatewayProxyEvent, responseStream: Writable, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<void> => {
    const pending: Promise<unknown>[] = [];
    const abort = new AbortController();
    const onGone = () => abort.abort(new Error('client disconnected'));
    responseStream.on('error', onGone);
    responseStream.on('close', onGone);
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline =
      remaining !== undefined && Number.isFinite(remaining)
        ? setTimeout(() => abort.abort(new Error('function deadline reached')), Math.max(0, remaining - DEADLINE_MARGIN_MS))
        : undefined;
    try {
      const response = await app.fetch(toGatewayRequest(event, abort.signal), { waitUntil: (p) => pending.push(p) });
      // The real runtime's HttpResponseStream.from (aws-lambda-nodejs-runtime-interface-client) sends
      // nothing itself: it installs `_onBeforeFirstWrite`, which writes the JSON prelude and the 8 NUL
      // delimiter bytes when the handler first calls write(). A response that never writes (an empty
      // body) would reach API Gateway with no status and no headers at all; see `wrote` below.
      // The metadata is taken when the first body bytes are in hand, not when fetch returns: headers the
      // app sets until then (the target that serves a stream committed before it opened) are sent too.
      let opened: Writable | undefined;
      const out = (): Writable => {
        if (opened) return opened;
        const headers: Record<string, string> = {};
        response.headers.forEach((value, key) => (headers[key] = value));
        const metadata: HttpResponseMetadata = { statusCode: response.status, headers };
        return (opened = lambda.HttpResponseStream.from(responseStream, { ...metadata }));
      };
      let wrote = false;
      if (hasBody(response)) {
        const reader = bodyReader(response) as BodyReader;
        let writer: TickBatchedWriter | undefined;
        for (;;) {
          if (abort.signal.aborted || (opened ?? responseStream).destroyed) {
            await reader.cancel().catch(() => undefined);
            break;
          }
          const { done, value } = await reader.read();
          if (done) break;
          wrote = true;
          writer ??= tickBatchedWriter(out());
          if (!writer.write(value)) await drained(out(), abort.signal);
        }
        // What this tick corked leaves now, before end(): on Node 22 (Lambda's nodejs22.x runtime) an
        // OutgoingMessage ended while corked sends its chunked-encoding terminator before the chunks it
        // buffered, so the runtime's response stream lost the last batch (the whole body of a non-streamed
        // answer, the [DONE] of a stream whose end arrived with its last chunks). test/e2e/lambda-runtime-loop.
        writer?.flush();
      }
      // An empty write is still the first write: it sends the status and headers of an empty-body response.
      const stream = out();
      if (!wrote && !stream.destroyed && !stream.writableEnded) stream.write(new Uint8Array(0));
      if (!stream.destroyed && !stream.writableEnded) await new Promise<void>((resolve) => stream.end(() => resolve()));
    } finally {
      if (deadline) clearTimeout(deadline);
      responseStream.off('error', onGone);
      responseStream.off('close', onGone);
      await Promise.allSettled(pending);
      await opts.afterInvocation?.();
    }
  };
}

interface TickBatchedWriter {
  write(chunk: Uint8Array): boolean;
  /** Uncorks now what this tick corked (before end()); a no-op when nothing is corked. */
  flush(): void;
}

/**
 * `out.write`, with the writes of one tick batched: the first corks the stream and the uncork runs on
 * process.nextTick, as soon as the relay stops producing synchronously. Chunks are never held for data
 * that has not arrived yet; chunks that arrive together leave in one write to the runtime. Each cork is
 * undone by exactly one uncork, counted here: Node 22's OutgoingMessage counts corks itself
 * (`writableCorked`), and an uncork more than it corked would leave its count below zero.
 */
function tickBatchedWriter(out: Writable): TickBatchedWriter {
  let corked = false;
  const flush = () => {
    if (!corked) return;
    corked = false;
    if (!out.destroyed && !out.writableEnded) out.uncork();
  };
  return {
    write(chunk) {
      if (!corked) {
        corked = true;
        out.cork();
        process.nextTick(flush);
      }
      return out.write(chunk);
    },
    flush,
  };
}
