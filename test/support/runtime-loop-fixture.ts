/**
 * A Lambda container in a process of its own whose handler answers `hello <n>` through the runtime's
 * invocation loop (test/support/lambda-runtime-client.ts), for the loop's own tests: HOLD_MS leaves a
 * ref'd timer of that length behind after each answer; NO_WAIT=1 sets `callbackWaitsForEmptyEventLoop`
 * to false.
 *
 *   AWS_LAMBDA_RUNTIME_API=host:port node --import tsx test/support/runtime-loop-fixture.ts
 */
import { runtimeAwsLambda, startStreamingRuntime } from './lambda-runtime-client';

const holdMs = Number(process.env.HOLD_MS ?? 0);
const handler = runtimeAwsLambda.streamifyResponse(async (event, stream, context) => {
  if (process.env.NO_WAIT === '1') context.callbackWaitsForEmptyEventLoop = false;
  const out = runtimeAwsLambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { 'content-type': 'text/plain' } });
  out.write(`hello ${(event as unknown as { n: number }).n}`);
  if (holdMs > 0) setTimeout(() => undefined, holdMs);
  await new Promise<void>((resolve) => out.end(() => resolve()));
});
startStreamingRuntime(String(process.env.AWS_LAMBDA_RUNTIME_API), handler);
