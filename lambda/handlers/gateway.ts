/**
 * The Lambda entry point behind API Gateway (REST, response streaming): the composed gateway app behind
 * the streaming adapter (gateway-handler.ts). Built once per container; metrics are flushed after each
 * invocation's stream and deferred settlement have finished, before the handler returns.
 */
import { lambdaGlobal } from './lambda-streaming';
import { createGatewayHandler } from './gateway-handler';
import { createLambdaRuntime } from './lambda-runtime';
import { installLazySourceMaps } from './lazy-source-maps';
import { installShutdownHandler } from './shutdown';

// Stack traces mapped to the sources on the first trace, not at load (the stack sets no --enable-source-maps for this function).
installLazySourceMaps(__filename);
const runtime = createLambdaRuntime(process.env);
// Lambda retiring this container (SIGTERM): its admission leases go back to the budget counters first.
installShutdownHandler({ releaseLeases: () => runtime.gatekeeper.releaseLeases(), flushTelemetry: () => runtime.telemetry.flush() });

export const handler = createGatewayHandler(runtime, lambdaGlobal());
