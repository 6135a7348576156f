/**
 * A value built the first time it is asked for. For zod schemas the request path may never parse (another
 * API surface's, the admin CLI's): zod builds a schema eagerly (each `z.object`, `.optional()`, ... sets up
 * its checks and parsers), which at module load is part of every Lambda cold start.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: build() }).v;
}
