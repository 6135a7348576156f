/**
 * Lambda's shutdown phase for the gateway's container. When Lambda retires an execution environment (idle,
 * scaled in) it thaws it and sends the runtime SIGTERM, then SIGKILLs it ~300 ms later; it does so only
 * when an extension is registered, which is why the stack attaches one that does nothing else
 * (lib/constructs/shutdown-extension.ts). Without it the runtime just vanishes.
 *
 * What must happen in that window is money: the container holds admission leases, budget headroom taken
 * out of the shared counters (store/admission-leases.ts), across invocations and while frozen. Given back
 * here, the counters keep exactly what was spent. A container that dies holding them (SIGKILL, a crash, a
 * store that does not answer in time) is found by the sweeper, which charges what they still held as spent:
 * safe (never under the cap's truth), but headroom nobody used charged to a hard budget.
 *
 * The give-back (a flush of settled spend and one conditional write per lease, all in parallel) is bounded
 * by SHUTDOWN_DEADLINE_MS, then buffered metrics are published and the process exits by itself.
 */

/** Lambda gives the runtime 300 ms after SIGTERM (500 ms with an internal extension); this leaves 50 ms for the rest. */
export const SHUTDOWN_DEADLINE_MS = 250;

export interface ShutdownWork {
  /** Gives the admission leases back; resolves to the number not given back (left to the sweeper). */
  releaseLeases(): Promise<number>;
  /** Publishes buffered metrics (synchronous: stdout). */
  flushTelemetry(): void;
}

export interface ShutdownOptions {
  deadlineMs?: number;
  /** Where the signal comes from and what exits (tests). */
  process?: Pick<NodeJS.Process, 'on' | 'exit'>;
  /** One JSON line about the shutdown (default: stderr, which Lambda sends to the function's log group). */
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * On SIGTERM: give the leases back within the deadline, publish metrics, exit 0. A second SIGTERM while
 * that runs is ignored (with `once`, Node's default action would kill the process mid-give-back).
 */
export function installShutdownHandler(work: ShutdownWork, opts: ShutdownOptions = {}): void {
  const proc = opts.process ?? process;
  const deadlineMs = opts.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = opts.now ?? Date.now;
  let signalled = false;
  proc.on('SIGTERM', () => {
    if (signalled) return;
    signalled = true;
    const started = now();
    let finished = false;
    const finish = (fields: Record<string, unknown>, ok: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const message = ok ? 'shutdown: admission leases given back' : 'shutdown: admission leases not given back; the sweeper charges what they held';
      log(JSON.stringify({ level: ok ? 'INFO' : 'WARN', message, ...fields, ms: now() - started }));
      try {
        work.flushTelemetry();
      } finally {
        proc.exit(0);
      }
    };
    const timer = setTimeout(() => finish({ reason: `the store did not answer within ${deadlineMs} ms` }, false), deadlineMs);
    work.releaseLeases().then(
      (left) => finish(left === 0 ? {} : { reason: 'in use by a request in flight, or a store error', leases: left }, left === 0),
      (err: unknown) => finish({ reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, false),
    );
  });
}
