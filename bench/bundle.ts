/**
 * Lambda bundle size and cold init. Bundles the handlers the way the CDK's NodejsFunction does for this
 * stack (esbuild, platform node, target node22, CommonJS, minified, AWS SDK bundled rather than taken
 * from the runtime, the modules of lib/lazy-chunks.ts (the tokenizer, the price catalog, the SNS/SQS clients, the SDK's other
 * credential providers) as lazily loaded chunks next to the gateway bundle), then loads the bundle in fresh `node` processes with a stub `awslambda` global and
 * times the require, which is what Lambda's init phase spends on our code.
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { parseConfig, type TollgateConfig } from '../lambda/core/config';
import { bakedDefines } from '../lib/baked-defines';
import { builtChunkFile, builtChunks, CHUNK_BUILD, LAZY_CHUNK_MODULES, lazyChunks } from '../lib/lazy-chunks';
import type { BundleSection } from './harness';
import { summarize } from './stats';

const ROOT = resolve(__dirname, '..');
const HANDLERS = ['lambda/handlers/gateway.ts', 'lambda/handlers/sweeper.ts'];

/** The environment the gateway function gets from the stack; values are placeholders (nothing is called at init). */
export const LAMBDA_ENV: Record<string, string> = {
  TOLLGATE_KEYS_TABLE: 'tollgate-keys',
  TOLLGATE_LEDGER_TABLE: 'tollgate-ledger',
  TOLLGATE_PROVIDER_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate-provider-keys',
  TOLLGATE_ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:tollgate-alerts',
  POWERTOOLS_SERVICE_NAME: 'tollgate',
  POWERTOOLS_METRICS_NAMESPACE: 'Tollgate',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'tollgate-gateway',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  AWS_ACCESS_KEY_ID: 'AKIDBENCH',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SESSION_TOKEN: 'bench',
  // No NODE_OPTIONS=--enable-source-maps, as the stack deploys the gateway: it maps its stack traces on the
  // first one (lambda/handlers/lazy-source-maps.ts) instead of Node reading the map at every cold start.
  PATH: process.env.PATH ?? '',
};

/** Stub of the runtime's global, installed with --require before the handler loads. */
export const AWSLAMBDA_STUB = `globalThis.awslambda = {
  streamifyResponse: (h) => h,
  HttpResponseStream: { from: (stream, metadata) => { stream.metadata = metadata; return stream; } },
};
`;

export interface BuiltBundle {
  file: string;
  /** Lazily loaded chunks shipped next to the bundle (gateway only): module and minified bytes. */
  chunks: { module: string; file: string; firstUse?: string }[];
  /** Minified bytes per package (or `lambda/` for our code), largest first. */
  composition: { module: string; bytes: number }[];
}

/** `minify: false` only for bench/require-breakdown.ts, which needs esbuild's module wrappers by name. */
/** `config`: the config to bake in (a validated one; by default the repository's example, as the stack bakes its own). */
export async function bundleHandler(entry: string, outDir: string, opts: { minify?: boolean; config?: TollgateConfig } = {}): Promise<BuiltBundle> {
  const split = entry.endsWith('gateway.ts');
  const outfile = join(outDir, entry.replace(/^lambda\/handlers\//, '').replace(/\.ts$/, '.js'));
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    conditions: CHUNK_BUILD.conditions,
    minify: opts.minify ?? true,
    // As lib/constructs/function-defaults.ts: AWS SDK bundled (externalModules: []), linked source map
    // without sources, the validated config and its price snapshot baked in.
    sourcemap: true,
    sourcesContent: false,
    define: bakedDefines(opts.config ?? bakedConfig()),
    external: ['dynalite', ...(split ? LAZY_CHUNK_MODULES : [])],
    logLevel: 'silent',
    metafile: true,
  });
  const bytes = new Map<string, number>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, v] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? (input.startsWith('lambda/') ? 'lambda/ (Tollgate)' : input);
      bytes.set(pkg, (bytes.get(pkg) ?? 0) + v.bytesInOutput);
    }
  }
  const composition = [...bytes.entries()].sort((a, b) => b[1] - a[1]).map(([module, n]) => ({ module, bytes: n }));
  const chunks: BuiltBundle['chunks'] = [];
  for (const c of split ? lazyChunks() : []) {
    const file = join(outDir, c.relativeOutfile);
    mkdirSync(dirname(file), { recursive: true });
    copyFileSync(builtChunkFile(builtChunks(), c.module), file);
    chunks.push({ module: c.module, file, firstUse: c.firstUse });
  }
  return { file: outfile, chunks, composition };
}

/** The repository's example config, validated as the CDK app does before baking it in. */
function bakedConfig(): TollgateConfig {
  return parseConfig(JSON.parse(readFileSync(join(ROOT, 'tollgate.config.json'), 'utf8')));
}

export async function measureBundles(opts: { coldRuns: number }): Promise<BundleSection> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bundle-'));
  try {
    const entries: BundleSection['entries'] = [];
    let gatewayBundle: string | undefined;
    let gatewayChunk: string | undefined;
    let laterChunks: BuiltBundle['chunks'] = [];
    for (const entry of HANDLERS) {
      if (!existsSync(join(ROOT, entry))) continue;
      const built = await bundleHandler(entry, dir);
      const bytes = readFileSync(built.file);
      entries.push({
        entry,
        bytes: bytes.length,
        gzipBytes: gzipSync(bytes, { level: 9 }).length,
        sourceMapBytes: statSync(`${built.file}.map`).size,
        largestModules: built.composition.slice(0, 10),
        lazyChunks: built.chunks.map((c) => {
          const chunk = readFileSync(c.file);
          return { module: c.module, bytes: chunk.length, gzipBytes: gzipSync(chunk, { level: 9 }).length };
        }),
      });
      if (entry.endsWith('gateway.ts')) {
        gatewayBundle = built.file;
        gatewayChunk = built.chunks[0]?.module;
        laterChunks = built.chunks.slice(1).filter((c) => c.firstUse !== undefined);
      }
    }
    if (!gatewayBundle) throw new Error('lambda/handlers/gateway.ts is missing');
    const stub = join(dir, 'awslambda-stub.cjs');
    writeFileSync(stub, AWSLAMBDA_STUB);
    const requireMs: number[] = [];
    const processMs: number[] = [];
    const chunkMs: number[] = [];
    for (let i = 0; i < opts.coldRuns; i++) {
      const r = await coldLoad(gatewayBundle, stub, gatewayChunk);
      requireMs.push(r.requireMs);
      processMs.push(r.processMs);
      if (r.chunkMs !== undefined) chunkMs.push(r.chunkMs);
    }
    // The other chunks a Lambda container may load, each timed on its first use (fewer runs: rarer paths).
    const firstUseChunksMs: NonNullable<BundleSection['coldInit']['firstUseChunksMs']> = [];
    for (const c of laterChunks) {
      const ms: number[] = [];
      for (let i = 0; i < Math.min(opts.coldRuns, 5); i++) {
        const r = await coldLoad(gatewayBundle, stub, c.module);
        if (r.chunkMs !== undefined) ms.push(r.chunkMs);
      }
      if (ms.length > 0) firstUseChunksMs.push({ module: c.module, firstUse: c.firstUse ?? '', ms: summarize(ms) });
    }
    return {
      entries,
      coldInit: {
        runs: opts.coldRuns,
        entry: 'gateway',
        requireMs: summarize(requireMs),
        processMs: summarize(processMs),
        lazyChunkMs: gatewayChunk && chunkMs.length > 0 ? { module: gatewayChunk, ms: summarize(chunkMs) } : undefined,
        firstUseChunksMs,
        note: 'require() of the bundle in a fresh node process on this machine; Lambda adds runtime start-up and sandbox set-up (not measured).',
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Times require() of the bundle in a fresh process, then (separately, as the handler does after its first
 * response) require() of the lazy chunk, resolved from the bundle's folder as the bundle itself would.
 */
export async function coldLoad(
  bundle: string,
  stub: string,
  chunk?: string,
  env: Record<string, string> = LAMBDA_ENV,
): Promise<{ requireMs: number; cpuMs: number; processMs: number; chunkMs?: number }> {
  const loadChunk = chunk
    ? `const t2=process.hrtime.bigint();require(require('node:module').createRequire(${JSON.stringify(bundle)}).resolve(${JSON.stringify(chunk)}));r.chunkMs=Number(process.hrtime.bigint()-t2)/1e6;`
    : '';
  // cpuMs: the process's CPU time during the require (all threads), less disturbed than wall time on a busy machine.
  const script = `const c=process.cpuUsage();const t=process.hrtime.bigint();const m=require(${JSON.stringify(bundle)});const u=process.cpuUsage(c);const r={requireMs:Number(process.hrtime.bigint()-t)/1e6,cpuMs:(u.user+u.system)/1e3};if(typeof m.handler!=='function')throw new Error('no handler export');${loadChunk}process.stdout.write(JSON.stringify(r),()=>process.exit(0));`;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--require', stub, '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => {
      const processMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`cold load failed (${code}): ${err.slice(0, 2000)}`));
      try {
        const r = JSON.parse(out) as { requireMs: number; cpuMs: number; chunkMs?: number };
        resolvePromise({ requireMs: r.requireMs, cpuMs: r.cpuMs, chunkMs: r.chunkMs, processMs });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
