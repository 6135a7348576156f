/**
 * The gateway's Lambda handler for a built runtime: the app behind the response-streaming adapter, and what
 * each invocation does after its response, before the container may freeze. gateway.ts builds the runtime
 * from the environment and exports this; bench/lambda-calls.ts builds it around a counted store client.
 */
import { warmTokenizer } from '../core/token-estimate';
import type { LambdaRuntime } from './lambda-runtime';
import { createStreamingHandler, type AwsLambdaGlobal } from './lambda-streaming';

/**
 * How long the admission leases a container holds when an invocation ends stay its own without another
 * write (the usual lease time is the function's timeout + 120 s). The container may be frozen then, for as
 * long as Lambda keeps it idle, and retired later with SIGTERM (lambda/handlers/shutdown.ts gives the leases
 * back). Expiring sooner, they would be reclaimed by the sweeper first, which charges their unused headroom
 * as spent. The price: a container that dies without SIGTERM (a crash) leaves its leases' headroom reserved,
 * never spent, for up to this long before the sweeper charges it. Lambda does not document how long it keeps
 * an idle environment; minutes to tens of minutes are what is commonly observed.
 */
export const FROZEN_HOLD_MS = 60 * 60_000;
/** 99 records and the process's watermark key: the pass reads them in one BatchGet (100 keys). */
const DERIVE_BATCH = 99;
const DERIVE_MAX_AGE_MS = 30_000;

export function createGatewayHandler(runtime: LambdaRuntime, awslambda: AwsLambdaGlobal): unknown {
  return awslambda.streamifyResponse(
    createStreamingHandler(runtime.app, awslambda, {
      afterInvocation: async () => {
        // Spend admitted from this container's leases reaches the budget counters before the container
        // freezes, and the leases stay its own while it is frozen (FROZEN_HOLD_MS).
        await runtime.gatekeeper.flushLeases({ holdMs: FROZEN_HOLD_MS }).catch(() => undefined);
        // Rollups of this container's records: a frozen container runs no timer, so a pass runs here once
        // 99 records wait or the oldest has waited 30 s (one pass per batch; the sweeper is the backstop).
        await runtime.gatekeeper.deriveIfDue(DERIVE_BATCH, DERIVE_MAX_AGE_MS).catch(() => undefined);
        runtime.telemetry.flush();
        warmTokenizer(); // a no-op after the first invocation
      },
    }),
  );
}
