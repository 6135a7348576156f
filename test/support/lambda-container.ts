/**
 * A Lambda container in a process of its own, for tests that signal or kill it: the gateway's Lambda entry
 * (lambda/handlers/gateway.ts, the sources under tsx) loaded with the function's environment and the
 * runtime's `awslambda` global stubbed (`--require`, test/support/bundle-probe.ts), taking invocations over
 * loopback HTTP as the runtime would hand them over: `POST /invoke` with an API Gateway REST proxy event
 * answers `{ metadata, body }` once the handler has returned (the invocation's end, after its deferred
 * work: what Lambda bills). Unlike a real container it is never frozen between invocations. Writes
 * `lambda container listening on <url>` to stderr once it takes invocations.
 *
 *   node --require <awslambda stub> --import tsx test/support/lambda-container.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { handler as streamified } from '../../lambda/handlers/gateway';

/** The stub's streamifyResponse returns the handler itself (bench/bundle.ts AWSLAMBDA_STUB). */
const handler = streamified as (event: unknown, stream: Writable, context: { getRemainingTimeInMillis(): number }) => Promise<void>;

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    let body = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        body += chunk.toString();
        cb();
      },
    }) as Writable & { metadata?: unknown };
    handler(JSON.parse(raw), stream, { getRemainingTimeInMillis: () => 300_000 }).then(
      () => res.end(JSON.stringify({ metadata: stream.metadata, body })),
      (err: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err) }));
      },
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  server.unref(); // the container's own work decides when it exits (as in Lambda: the runtime keeps it)
  process.stderr.write(`lambda container listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
// Keeps the process alive between invocations, as Lambda's runtime client does.
setInterval(() => undefined, 60_000);
