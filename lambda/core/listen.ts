import type { EventEmitter } from 'node:events';

type Handlers = Record<string, (...args: never[]) => void>;

/** Adds `handlers` (event name → listener) to `emitter`; the function returned removes them all again. */
export function listen(emitter: EventEmitter, handlers: Handlers): () => void {
  const entries = Object.entries(handlers) as Array<[string, (...args: unknown[]) => void]>;
  for (const [event, fn] of entries) emitter.on(event, fn);
  return () => {
    for (const [event, fn] of entries) emitter.off(event, fn);
  };
}
