/**
 * Keeping a streamed answer alive while the upstream is silent, and ending one that has stalled.
 *
 * API Gateway (REST, response streaming) cuts a stream after 5 minutes without a byte, and proxies and
 * clients on the way often have shorter idle timeouts; a reasoning model can think longer than that before
 * its first token. SSE comment lines (`: keep-alive`) are skipped by every SSE client (openai-node's
 * decoder included), so sending one keeps the connection busy without changing the answer. Between chunks
 * an upstream that goes quiet for `stallTimeoutMs` is given up on: the stream ends with an OpenAI-style
 * error event and the request settles, instead of waiting for undici's 300 s body timeout.
 *
 * Used by the stream relay (relay.ts) through two calls: `settledWithin` (how long to wait for the
 * first chunk before committing to a 200 SSE response) and `KeepAliveWatch` (every wait on the upstream
 * once committed).
 */
import { UpstreamError } from '../core/errors';

export const SSE_KEEPALIVE = new TextEncoder().encode(': keep-alive\n\n');

export interface KeepAliveSettings {
  /** A comment is sent after this long without a byte to the client (config.server.sseKeepAliveMs). */
  intervalMs: number;
  /** Between chunks, the upstream is given up on after this long without one (config.server.streamStallTimeoutMs). */
  stallTimeoutMs: number;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** `promise`'s outcome if it settles within `ms`; undefined otherwise (the promise keeps running). */
export function settledWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T> | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, error });
      },
    );
  });
}

/** The upstream sent nothing for the stall timeout mid-stream. Not the client's fault: 504, retry worthy. */
export class StreamStalledError extends UpstreamError {
  constructor(provider: string, ms: number) {
    super(provider, `Provider '${provider}' sent nothing for ${ms} ms in the middle of the answer, so the gateway ended it. Retry the request.`, {
      status: 504,
      type: 'timeout_error',
      code: 'upstream_stream_stalled',
      retryable: true,
    });
  }
}

/**
 * Waits on the upstream for one stream, enqueuing a keep-alive comment into `controller` every
 * `intervalMs` a wait takes. A comment is only enqueued while the stream's queue is empty (the client has
 * taken everything): a client that stopped reading does not get a pile of comments buffered for it. With
 * `stall`, a wait gives up after `stall.ms`: it rejects with `stall.error()` (the caller stops the
 * upstream) and leaves `next` to settle unobserved.
 *
 * One timer per stream, re-armed lazily, rather than an interval and a timeout per wait: a stream waits once
 * per upstream chunk, and two timers set and cleared per chunk were a tenth of the relay's CPU. The timer
 * fires at the earliest moment the current wait could need a comment or time out; a wait that ended
 * meanwhile costs one check. `stop()` when the stream ends.
 */
export class KeepAliveWatch {
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private waiting: Waiting | undefined;

  constructor(
    private readonly controller: ReadableStreamDefaultController<Uint8Array>,
    private readonly intervalMs: number,
  ) {}

  wait<T>(next: Promise<T>, stall?: { ms: number; error: () => Error }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = Date.now();
      const w: Waiting = { since: now, lastPing: now, stall, reject, next };
      this.waiting = w;
      this.arm(now);
      next.then(
        (value) => {
          if (this.waiting === w) this.waiting = undefined;
          resolve(value);
        },
        (error: unknown) => {
          if (this.waiting === w) this.waiting = undefined;
          reject(error);
        },
      );
    });
  }

  stop(): void {
    this.waiting = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private arm(now: number): void {
    const w = this.waiting;
    if (!w) return;
    const due = Math.min(w.lastPing + this.intervalMs, w.stall ? w.since + w.stall.ms : Infinity);
    if (this.timer && this.timerDue <= due) return; // fires in time; it re-checks then
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(this.onTimer, Math.max(0, due - now));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    const w = this.waiting;
    if (!w) return; // nothing waits: the next wait arms again
    const now = Date.now();
    if (w.stall && now - w.since >= w.stall.ms) {
      this.waiting = undefined;
      w.next.catch(() => undefined);
      w.reject(w.stall.error());
      return;
    }
    if (now - w.lastPing >= this.intervalMs) {
      w.lastPing = now;
      if ((this.controller.desiredSize ?? -1) >= 0) {
        try {
          this.controller.enqueue(SSE_KEEPALIVE);
        } catch {
          // The stream was closed or cancelled meanwhile; the relay's own paths handle that.
        }
      }
    }
    this.arm(now);
  };
}

interface Waiting {
  since: number;
  lastPing: number;
  stall?: { ms: number; error: () => Error };
  reject: (error: unknown) => void;
  next: Promise<unknown>;
}
