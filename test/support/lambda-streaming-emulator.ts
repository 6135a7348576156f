/**
 * An emulation of the Lambda Node.js runtime's response-streaming contract, for tests outside Lambda.
 * Like the real runtime, `HttpResponseStream.from` writes the JSON prelude (status code, headers), then
 * 8 NUL bytes, then the body; the caller (API Gateway) splits the prelude from the body there.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { Writable } from 'node:stream';
import type { AwsLambdaGlobal } from '../../lambda/handlers/lambda-streaming';

const DELIMITER = Buffer.alloc(8);

export const awsLambdaEmulation: AwsLambdaGlobal = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream: Writable, metadata: Record<string, unknown>): Writable {
      stream.write(Buffer.from(JSON.stringify(metadata)));
      stream.write(DELIMITER);
      return stream;
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
}): APIGatewayProxyEvent {
  const headers = { host: 'abc123.execute-api.us-east-1.amazonaws.com', ...(opts.headers ?? {}) };
  const body = opts.body === undefined ? null : opts.base64 ? Buffer.from(opts.body).toString('base64') : opts.body;
  return {
    resource: '/v1/{proxy+}',
    path: opts.path,
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
      path: `/prod${opts.path}`,
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
