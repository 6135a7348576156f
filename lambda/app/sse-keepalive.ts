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
 * first chunk before committing to a 200 SSE response) and `waitWithKeepAlive` (every wait on the upstream
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
 * Awaits `next`, enqueuing a keep-alive comment into `controller` every `intervalMs` it takes. A comment is
 * only enqueued while the stream's queue is empty (the client has taken everything): a client that stopped
 * reading does not get a pile of comments buffered for it. With `stall`, gives up after `stall.ms`:
 * rejects with `stall.error()` (the caller stops the upstream) and leaves `next` to settle unobserved.
 */
export function waitWithKeepAlive<T>(
  next: Promise<T>,
  controller: ReadableStreamDefaultController<Uint8Array>,
  intervalMs: number,
  stall?: { ms: number; error: () => Error },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ping = setInterval(() => {
      if ((controller.desiredSize ?? -1) < 0) return;
      try {
        controller.enqueue(SSE_KEEPALIVE);
      } catch {
        // The stream was closed or cancelled meanwhile; the relay's own paths handle that.
      }
    }, intervalMs);
    const stalled = stall
      ? setTimeout(() => {
          clear();
          next.catch(() => undefined);
          reject(stall.error());
        }, stall.ms)
      : undefined;
    function clear() {
      clearInterval(ping);
      if (stalled) clearTimeout(stalled);
    }
    next.then(
      (value) => {
        clear();
        resolve(value);
      },
      (error: unknown) => {
        clear();
        reject(error);
      },
    );
  });
}
