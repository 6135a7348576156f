/**
 * The Lambda entry point behind API Gateway (REST, response streaming): the composed gateway app behind
 * the streaming adapter. Built once per container; metrics are flushed after each invocation's stream and
 * deferred settlement have finished, before the handler returns.
 */
import { createStreamingHandler, lambdaGlobal } from './lambda-streaming';
import { warmTokenizer } from '../core/token-estimate';
import { createLambdaRuntime } from './lambda-runtime';
import { installLazySourceMaps } from './lazy-source-maps';
import { installShutdownHandler } from './shutdown';

// Stack traces mapped to the sources on the first trace, not at load (the stack sets no --enable-source-maps for this function).
installLazySourceMaps(__filename);
const runtime = createLambdaRuntime(process.env);
/** 99 records and the process's watermark key: the pass reads them in one BatchGet (100 keys). */
const DERIVE_BATCH = 99;
const DERIVE_MAX_AGE_MS = 30_000;
const awslambda = lambdaGlobal();
// Lambda retiring this container (SIGTERM): its admission leases go back to the budget counters first.
installShutdownHandler({ releaseLeases: () => runtime.gatekeeper.releaseLeases(), flushTelemetry: () => runtime.telemetry.flush() });

export const handler = awslambda.streamifyResponse(
  createStreamingHandler(runtime.app, awslambda, {
    afterInvocation: async () => {
      // Spend admitted from this container's leases reaches the budget counters before the container freezes.
      await runtime.gatekeeper.flushLeases().catch(() => undefined);
      // Rollups of this container's records: a frozen container runs no timer, so a pass runs here once
      // 99 records wait or the oldest has waited 30 s (one pass per batch; the sweeper is the backstop).
      await runtime.gatekeeper.deriveIfDue(DERIVE_BATCH, DERIVE_MAX_AGE_MS).catch(() => undefined);
      runtime.telemetry.flush();
      warmTokenizer(); // a no-op after the first invocation
    },
  }),
);
