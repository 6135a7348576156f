/**
 * The Lambda Node.js runtime's invocation loop for a response-streaming handler, as the runtime interface
 * client does it (aws/aws-lambda-nodejs-runtime-interface-client: Runtime.js handleOnceStreaming,
 * StreamingContext.js, ResponseStream.js, HttpResponseStream.js), against a Runtime API on loopback
 * (test/doubles/lambda-runtime-api-double.ts). What it keeps from the real client, because the handler's
 * behaviour and cost depend on it:
 *
 * - The next invocation is asked for only when the handler's promise has resolved, its response stream has
 *   finished and the Runtime API has answered the stream, and then, unless the handler set
 *   `context.callbackWaitsForEmptyEventLoop = false`, only on `beforeExit`: once the event loop has nothing
 *   left (a ref'd timer or socket the handler leaves behind holds the invocation open, billed, until it
 *   goes).
 * - The response stream is an HTTP/1.1 chunked POST to `/2018-06-01/runtime/invocation/{id}/response`
 *   (`Lambda-Runtime-Function-Response-Mode: streaming`, error trailers declared) over a keep-alive agent
 *   with one socket, handed to the handler as the client's `writableStreamOnly` wrapper (bound methods and
 *   proxied properties, not a Writable); the first write() runs `_onBeforeFirstWrite`, which
 *   `HttpResponseStream.from` arms to send the JSON prelude and 8 NUL bytes.
 * - A handler that throws, or returns with its stream not finished, fails the invocation: the stream ends
 *   with the error trailers.
 *
 * Not kept: the real client asks for the next invocation through a native (curl) binding, here node:http
 * (a little more CPU in this process per invocation); no X-Ray, no log patching.
 */
import http from 'node:http';
import type { Writable } from 'node:stream';
import type { AwsLambdaGlobal } from '../../lambda/handlers/lambda-streaming';

const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER_LEN = 8;
const TRAILER_ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const TRAILER_ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';

type RuntimeStream = http.ClientRequest & {
  setContentType(type: string): void;
  _onBeforeFirstWrite?: (write: (chunk: string | Uint8Array) => void) => void;
};

/** The `awslambda` global the runtime installs: streamifyResponse marks the handler, HttpResponseStream arms the prelude. */
export const runtimeAwsLambda: AwsLambdaGlobal = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream: Writable, metadata: Record<string, unknown>): Writable {
      const s = stream as unknown as RuntimeStream;
      s.setContentType(PRELUDE_CONTENT_TYPE);
      const prelude = JSON.stringify(metadata);
      s._onBeforeFirstWrite = (write) => {
        write(prelude);
        write(new Uint8Array(DELIMITER_LEN));
      };
      return stream;
    },
  },
};

/** The runtime client's wrapper: the handler sees bound methods and proxied properties of the request. */
function writableStreamOnly(inner: RuntimeStream): Writable {
  const fns = ['cork', 'destroy', 'end', 'uncork', 'write', 'addListener', 'emit', 'eventNames', 'getMaxListeners', 'listenerCount', 'listeners', 'off', 'on', 'once', 'prependListener', 'prependOnceListener', 'rawListeners', 'removeAllListeners', 'removeListener', 'setMaxListeners', 'setContentType'] as const;
  const readWrite = ['destroyed', 'writable', '_onBeforeFirstWrite'];
  const readOnly = ['writableFinished', 'writableObjectMode', 'writableBuffer', 'writableEnded', 'writableNeedDrain', 'writableHighWaterMark', 'writableCorked', 'writableLength'];
  const target = inner as unknown as Record<string, unknown>;
  const stream = Object.fromEntries(fns.map((fn) => [fn, (target[fn] as (...a: unknown[]) => unknown).bind(inner)])) as Record<string, unknown>;
  for (const prop of readWrite) Object.defineProperty(stream, prop, { get: () => target[prop], set: (v: unknown) => (target[prop] = v) });
  for (const prop of readOnly) Object.defineProperty(stream, prop, { get: () => target[prop] });
  return stream as unknown as Writable;
}

export interface StreamingRuntime {
  /** Invocations whose handler has returned and whose next invocation was asked for. */
  readonly completed: number;
  /** Stops asking for invocations (the one being waited for is abandoned). */
  stop(): void;
}

type Handler = (event: unknown, stream: Writable, context: Record<string, unknown>) => Promise<void>;

/**
 * Runs the invocation loop for `handler` (what `streamifyResponse` returned) against the Runtime API at
 * `runtimeApi` (host:port, as AWS_LAMBDA_RUNTIME_API). The process must not hold its event loop open by
 * other means (an IPC channel: unref it) or the loop never sees `beforeExit`, as in Lambda.
 */
export interface StreamingRuntimeOptions {
  /**
   * Called at each invocation's first response write (the prelude and the first body bytes) with this
   * process's CPU time since the invocation arrived, in µs: the container's work before the client's first
   * byte (bench/lambda-calls.ts).
   */
  onFirstWrite?: (cpuMicros: number) => void;
  /** Called as each invocation arrives, before its event is parsed (where onFirstWrite's CPU is counted from). */
  onArrival?: () => void;
}

export function startStreamingRuntime(runtimeApi: string, handler: unknown, opts: StreamingRuntimeOptions = {}): StreamingRuntime {
  const [hostname, port] = runtimeApi.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const nextAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let beforeExit: () => void = () => undefined;
  const onBeforeExit = () => beforeExit();
  process.on('beforeExit', onBeforeExit);
  let stopped = false;
  let completed = 0;

  const nextInvocation = () =>
    new Promise<{ body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.get({ hostname, port: Number(port), path: '/2018-06-01/runtime/invocation/next', agent: nextAgent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ body, headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });

  const responseStream = (id: string, cpuAtArrival: NodeJS.CpuUsage) => {
    let done!: () => void;
    let failed!: (err: Error) => void;
    const responseDone = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
    let status: 'ready' | 'written' = 'ready';
    const req = http.request(
      {
        hostname,
        port: Number(port),
        method: 'POST',
        path: `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`,
        agent,
        headers: { 'Lambda-Runtime-Function-Response-Mode': 'streaming', Trailer: [TRAILER_ERROR_TYPE, TRAILER_ERROR_BODY], 'Content-Type': 'application/octet-stream' },
      },
      (res) => {
        res.resume();
        res.on('end', () => done());
        res.on('aborted', () => failed(new Error('runtime API aborted the response')));
      },
    ) as RuntimeStream;
    req.on('error', (err) => {
      failed(err);
      req.destroy(err);
    });
    req.setContentType = (type: string) => {
      if (status !== 'ready') throw new Error('Cannot set content-type, too late.');
      req.setHeader('Content-Type', type);
    };
    const origWrite = req.write.bind(req) as (...args: unknown[]) => boolean;
    req.write = function (this: RuntimeStream, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && (chunk as { constructor?: unknown })?.constructor !== Uint8Array) chunk = JSON.stringify(chunk);
      if (status === 'ready' && opts.onFirstWrite) {
        const used = process.cpuUsage(cpuAtArrival);
        opts.onFirstWrite(used.user + used.system);
      }
      if (status === 'ready' && typeof req._onBeforeFirstWrite === 'function') req._onBeforeFirstWrite((ch) => origWrite(ch));
      const ret = origWrite(chunk, ...rest);
      status = 'written';
      return ret;
    } as RuntimeStream['write'];
    const fail = (err: unknown) => {
      const error = { errorType: err instanceof Error ? err.name : 'Error', errorMessage: err instanceof Error ? err.message : String(err) };
      if (req.writableEnded || req.destroyed) return;
      req.addTrailers({ [TRAILER_ERROR_TYPE]: error.errorType, [TRAILER_ERROR_BODY]: Buffer.from(JSON.stringify(error)).toString('base64') });
      req.end();
    };
    return { stream: writableStreamOnly(req), responseDone, fail };
  };

  const scheduleIteration = () => {
    setImmediate(() => {
      handleOnce().catch(() => undefined);
    });
  };

  const handleOnce = async (): Promise<void> => {
    if (stopped) return;
    const { body, headers } = await nextInvocation();
    const cpuAtArrival = process.cpuUsage();
    opts.onArrival?.();
    if (stopped) return;
    const id = String(headers['lambda-runtime-aws-request-id']);
    const deadlineMs = Number(headers['lambda-runtime-deadline-ms']);
    let waitForEmptyEventLoop = true;
    const { stream, responseDone, fail } = responseStream(id, cpuAtArrival);
    const scheduleNext = () => {
      completed++;
      beforeExit = () => undefined;
      if (!waitForEmptyEventLoop) scheduleIteration();
      else beforeExit = () => setImmediate(scheduleIteration);
    };
    beforeExit = scheduleIteration; // _setStreamingExitListener
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value: boolean) {
        waitForEmptyEventLoop = value;
      },
      awsRequestId: id,
      getRemainingTimeInMillis: () => deadlineMs - Date.now(),
    };
    try {
      await (handler as Handler)(JSON.parse(body), stream, context);
      await responseDone;
      if (!stream.writableFinished) {
        fail(new Error('Response stream is not finished.'));
        scheduleNext();
        return;
      }
      scheduleNext();
    } catch (err) {
      fail(err);
      scheduleNext();
    }
  };

  scheduleIteration();
  return {
    get completed() {
      return completed;
    },
    stop() {
      stopped = true;
      beforeExit = () => undefined;
      process.off('beforeExit', onBeforeExit);
      agent.destroy();
      nextAgent.destroy();
    },
  };
}
