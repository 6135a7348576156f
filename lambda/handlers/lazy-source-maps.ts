/**
 * Stack traces of a bundled handler mapped back to the TypeScript sources, with the source map read on the
 * first stack trace instead of on every cold start.
 *
 * Why not NODE_OPTIONS=--enable-source-maps: with it, Node (20 and 22: lib/internal/source_map/
 * source_map_cache.js, maybeCacheSourceMap) reads and JSON-parses the whole map (1.6 MB for the gateway)
 * and measures every line of the bundle while the bundle is being required: ~20-30 ms of each cold start,
 * for stack traces most containers never print. Only decoding the mappings is lazy there.
 *
 * Here the map is read, and Node's own SourceMap (node:module) built, when V8 first formats a stack that
 * has a frame in the bundle; frames elsewhere (node internals, lazy chunks) print as V8 prints them. A frame
 * in the bundle prints as `at <original name> (<source path>:<line>:<column>)`, the name taken as Node
 * takes it (the enclosing function's mapped name, else the minified one).
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapping } from 'node:module';
import { dirname, resolve } from 'node:path';

/**
 * Installs the mapper for `bundleFile` (the handler's `__filename`); a no-op unless it is a bundle (`.js`)
 * and Node's own source maps are off, so ts-jest and `--enable-source-maps` runs are left alone.
 */
export function installLazySourceMaps(bundleFile: string): void {
  if (!bundleFile.endsWith('.js') || process.sourceMapsEnabled) return;
  const mapper = lazyMapper(bundleFile);
  Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => {
    const frames = sites.map((site, i) => {
      try {
        return mapper(sites, i) ?? String(site);
      } catch {
        return String(site);
      }
    });
    return `${header(error)}${frames.map((f) => `\n    at ${f}`).join('')}`;
  };
}

/** V8's first line of a stack: `Name: message`, as Error.prototype.toString writes it. */
function header(error: Error): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return '<error>';
  }
}

function lazyMapper(bundleFile: string): (sites: NodeJS.CallSite[], i: number) => string | undefined {
  let map: SourceMap | null | undefined;
  const load = (): SourceMap | null => {
    try {
      return new SourceMap(JSON.parse(readFileSync(`${bundleFile}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      return null; // no map shipped: frames print unmapped, as without --enable-source-maps
    }
  };
  const at = (line: number | null, column: number | null): Mapping | undefined => {
    if (line === null || column === null) return undefined;
    map ??= load();
    const entry = map?.findEntry(line - 1, column - 1);
    return entry && isMapping(entry) ? entry : undefined;
  };
  return (sites, i) => {
    const site = sites[i];
    if (site.getFileName() !== bundleFile) return undefined;
    const entry = at(site.getLineNumber(), site.getColumnNumber());
    if (!entry) return undefined;
    // As Node names a mapped frame: the enclosing function's original name, else the name at the caller's
    // call site (when the caller is in the bundle too), else V8's own.
    const next = sites[i + 1];
    const original =
      at(site.getEnclosingLineNumber(), site.getEnclosingColumnNumber())?.name ??
      (next?.getFileName() === bundleFile ? at(next.getLineNumber(), next.getColumnNumber())?.name : undefined);
    const typeName = site.getTypeName();
    const own = `${typeName !== null && typeName !== 'global' ? `${typeName}.` : ''}${site.getFunctionName() ?? site.getMethodName() ?? '<anonymous>'}`;
    const prefix = site.isAsync() ? 'async ' : site.isConstructor() ? 'new ' : '';
    const source = resolve(dirname(bundleFile), entry.originalSource.replace(/^file:\/\//, ''));
    return `${prefix}${original ?? own} (${source}:${entry.originalLine + 1}:${entry.originalColumn + 1})`;
  };
}

/** What findEntry returns for a mapped position (Node also gives the mapped symbol's name; @types/node omits it). */
type Mapping = SourceMapping & { name?: string };

function isMapping(entry: SourceMapping | object): entry is Mapping {
  return 'originalSource' in entry;
}
