/**
 * Lambda's Runtime API on loopback, for a container process running the runtime's invocation loop
 * (test/support/lambda-runtime-client.ts): `GET /2018-06-01/runtime/invocation/next` is held until an
 * invocation is queued and answers its event with the request id and deadline headers; a streamed
 * `POST …/{id}/response` is read to its end and split at the 8 NUL bytes into the prelude (status,
 * headers) and the body, with the error trailers if the runtime sent any. An invocation is over for Lambda
 * when the container asks for the next one: `invoke` resolves then, with the time the container took from
 * its response's end to that next request (the billed tail).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RuntimeInvocationResult {
  prelude: { statusCode: number; headers?: Record<string, string> } | undefined;
  body: string;
  /** The trailers' error, if the runtime failed the invocation. */
  errorType?: string;
  /** ms from the invocation's hand-over to the first body byte after the prelude. */
  firstByteMs: number | undefined;
  /** ms from the hand-over to the response's end. */
  responseMs: number;
  /** ms from the response's end to the container's next `next` (the invocation's billed tail). */
  tailMs: number;
}

interface Pending {
  id: string;
  event: unknown;
  handedAt: number;
  responseEndAt?: number;
  result?: Omit<RuntimeInvocationResult, 'tailMs'>;
  resolve(r: RuntimeInvocationResult): void;
  reject(e: Error): void;
}

const DELIMITER = Buffer.alloc(8);

export async function startRuntimeApi(opts: { deadlineMs?: number } = {}) {
  const queue: Pending[] = [];
  const byId = new Map<string, Pending>();
  let waiting: ServerResponse | undefined;
  let current: Pending | undefined;
  let nextId = 0;
  let nextRequests = 0;

  const hand = () => {
    if (!waiting || queue.length === 0) return;
    const p = queue.shift()!;
    const res = waiting;
    waiting = undefined;
    current = p;
    p.handedAt = performance.now();
    const body = JSON.stringify(p.event);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'lambda-runtime-aws-request-id': p.id,
      'lambda-runtime-deadline-ms': String(Date.now() + (opts.deadlineMs ?? 300_000)),
      'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:tollgate-gateway',
      'lambda-runtime-trace-id': 'Root=1-00000000-000000000000000000000000',
    });
    res.end(body);
  };

  const onNext = (res: ServerResponse) => {
    nextRequests++;
    // The previous invocation ends for Lambda here.
    if (current?.result && current.responseEndAt !== undefined) {
      const done = current;
      current = undefined;
      byId.delete(done.id);
      done.resolve({ ...done.result!, tailMs: performance.now() - done.responseEndAt! });
    }
    waiting = res;
    hand();
  };

  const onResponse = (req: IncomingMessage, res: ServerResponse, id: string) => {
    const p = byId.get(id);
    const parts: Buffer[] = [];
    let firstByteMs: number | undefined;
    req.on('data', (c: Buffer) => {
      parts.push(c);
      if (p && firstByteMs === undefined) {
        const raw = Buffer.concat(parts);
        const cut = raw.indexOf(DELIMITER);
        if (cut >= 0 && raw.length > cut + DELIMITER.length) firstByteMs = performance.now() - p.handedAt;
      }
    });
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"OK"}');
      if (!p) return;
      const raw = Buffer.concat(parts);
      const cut = raw.indexOf(DELIMITER);
      let prelude: RuntimeInvocationResult['prelude'];
      let body = raw.toString('utf8');
      if (req.headers['content-type'] === 'application/vnd.awslambda.http-integration-response' && cut >= 0) {
        prelude = JSON.parse(raw.subarray(0, cut).toString('utf8')) as RuntimeInvocationResult['prelude'];
        body = raw.subarray(cut + DELIMITER.length).toString('utf8');
      }
      const errorType = req.trailers['lambda-runtime-function-error-type'];
      p.responseEndAt = performance.now();
      p.result = { prelude, body, ...(errorType ? { errorType } : {}), firstByteMs, responseMs: p.responseEndAt - p.handedAt };
    });
    req.on('error', (err) => p?.reject(err));
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') return onNext(res);
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/response$/.exec(url);
    if (req.method === 'POST' && m) return onResponse(req, res, decodeURIComponent(m[1]));
    req.resume();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** host:port, as AWS_LAMBDA_RUNTIME_API. */
    address: `127.0.0.1:${port}`,
    /** How many times the container has asked for an invocation. */
    get nextRequests() {
      return nextRequests;
    },
    /** Queues an invocation; resolves once the container has answered it and asked for the next one. */
    invoke(event: unknown): Promise<RuntimeInvocationResult> {
      return new Promise((resolve, reject) => {
        const p: Pending = { id: `inv-${++nextId}`, event, handedAt: 0, resolve, reject };
        byId.set(p.id, p);
        queue.push(p);
        hand();
      });
    },
    async close() {
      waiting?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
