import type { Writable } from 'node:stream';

/**
 * Resolves on 'drain', or when the stream is gone or the request aborted: a destroyed stream never drains
 * and an already-aborted signal never fires 'abort' again. Shared by the Lambda and local servers' writers.
 */
export function drained(out: Writable, signal: AbortSignal): Promise<void> {
  if (out.destroyed || signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
