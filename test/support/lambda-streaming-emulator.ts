/**
 * An emulation of the Lambda Node.js runtime's response-streaming contract, for tests outside Lambda.
 * Like the real runtime (aws-lambda-nodejs-runtime-interface-client, HttpResponseStream.js), `from` sends
 * nothing by itself: it arms `_onBeforeFirstWrite`, and the JSON prelude (status code, headers) and 8 NUL
 * bytes go out just before the first chunk the handler writes. A handler that never calls write() sends
 * no prelude at all, exactly as in Lambda. The caller (API Gateway) splits the prelude from the body at
 * the NUL bytes.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { Writable } from 'node:stream';
import type { AwsLambdaGlobal } from '../../lambda/handlers/lambda-streaming';

const DELIMITER = Buffer.alloc(8);

type PreludeStream = Writable & { _onBeforeFirstWrite?: (write: (chunk: Uint8Array | string) => void) => void };

export const awsLambdaEmulation: AwsLambdaGlobal = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream: Writable, metadata: Record<string, unknown>): Writable {
      const target = stream as PreludeStream;
      const prelude = JSON.stringify(metadata);
      target._onBeforeFirstWrite = (write) => {
        write(prelude);
        write(DELIMITER);
      };
      // The runtime's response stream runs the hook inside its first write(), whatever its length.
      const originalWrite = target.write.bind(target) as (...args: unknown[]) => boolean;
      let first = true;
      target.write = ((...args: unknown[]) => {
        if (first) {
          first = false;
          target._onBeforeFirstWrite?.((chunk) => originalWrite(chunk));
        }
        return originalWrite(...args);
      }) as Writable['write'];
      return target;
    },
  },
};

export function installAwsLambdaGlobal(): void {
  (globalThis as { awslambda?: AwsLambdaGlobal }).awslambda = awsLambdaEmulation;
}

export interface CapturedStream {
  /** Every write, in order, with the time it arrived (to prove chunks were flushed one by one). */
  writes: Array<{ at: number; bytes: Buffer }>;
  prelude: { statusCode: number; headers?: Record<string, string> };
  body: string;
  ended: boolean;
}

/** A response stream that records what the handler wrote; `destroyAfter` simulates a client that leaves. */
export function captureStream(opts: { destroyAfterWrites?: number } = {}) {
  const writes: Array<{ at: number; bytes: Buffer }> = [];
  let ended = false;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push({ at: Date.now(), bytes: Buffer.from(chunk) });
      if (opts.destroyAfterWrites !== undefined && writes.length >= opts.destroyAfterWrites) {
        cb();
        setImmediate(() => stream.destroy());
        return;
      }
      cb();
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  return {
    stream,
    result(): CapturedStream {
      const raw = Buffer.concat(writes.map((w) => w.bytes));
      const cut = raw.indexOf(DELIMITER);
      if (cut < 0) throw new Error('no prelude delimiter in the response stream');
      return {
        writes,
        prelude: JSON.parse(raw.subarray(0, cut).toString('utf8')),
        body: raw.subarray(cut + DELIMITER.length).toString('utf8'),
        ended,
      };
    },
  };
}

export type StreamingHandler = (event: APIGatewayProxyEvent, stream: Writable, context: Context) => Promise<void>;

/** A REST API (v1) proxy event as API Gateway sends it to the integration. */
export function restProxyEvent(opts: {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  base64?: boolean;
  /** A custom domain's base path mapping (e.g. `/llm`): prefixes `path`, as API Gateway reports it then. */
  basePath?: string;
}): APIGatewayProxyEvent {
  const headers = { host: 'abc123.execute-api.us-east-1.amazonaws.com', ...(opts.headers ?? {}) };
  const body = opts.body === undefined ? null : opts.base64 ? Buffer.from(opts.body).toString('base64') : opts.body;
  return {
    resource: '/v1/{proxy+}',
    path: `${opts.basePath ?? ''}${opts.path}`,
    httpMethod: opts.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: opts.path.replace(/^\/v1\//, '') },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: undefined,
      httpMethod: opts.method,
      identity: { sourceIp: '127.0.0.1', userAgent: 'jest' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: opts.basePath ? `${opts.basePath}${opts.path}` : `/prod${opts.path}`,
      protocol: 'HTTP/1.1',
      requestId: 'test-request',
      requestTimeEpoch: Date.now(),
      resourceId: 'res',
      resourcePath: '/v1/{proxy+}',
      stage: 'prod',
    },
    body,
    isBase64Encoded: opts.base64 === true,
  };
}
