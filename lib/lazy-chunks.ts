/**
 * Modules the gateway bundle does not carry: each is bundled into a chunk of its own, shipped next to the
 * handler as `node_modules/<module>/index.js`, so Node's ordinary `require('<module>')` finds it at run
 * time. Why: V8 parses every byte of a bundle at `require` time, and the tokenizer alone is 2.7 MB of the
 * 4 MB bundle (~150-250 ms of a cold start) while it is only needed after a container's first response
 * (lambda/core/token-estimate.ts counts with the byte upper bound until then). The price catalog
 * (@pydantic/genai-prices, ~480 KB) likewise: the configured targets' prices are baked in as a snapshot at
 * synth (lambda/core/price-catalog.ts), so the catalog is only required for a model the snapshot lacks.
 * Used by the CDK construct (NodejsFunction command hook) and by the benchmark (bench/bundle.ts), so both
 * measure the same layout.
 */
import { dirname, join } from 'node:path';

export const LAZY_CHUNK_MODULES = ['gpt-tokenizer', '@pydantic/genai-prices'] as const;

export interface LazyChunk {
  module: string;
  /** The module's CommonJS entry, resolved from this repository's node_modules. */
  entry: string;
  /** Where the chunk goes, relative to the bundle's folder. */
  relativeOutfile: string;
}

export function lazyChunks(): LazyChunk[] {
  return LAZY_CHUNK_MODULES.map((module) => ({ module, entry: require.resolve(module), relativeOutfile: join('node_modules', module, 'index.js') }));
}

/** esbuild options shared by every chunk (the handler bundle's platform, target and format). */
export const CHUNK_BUILD = { bundle: true, platform: 'node', target: 'node22', format: 'cjs', minify: true } as const;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shell commands for NodejsFunction's `commandHooks.afterBundling`: one esbuild run per chunk (local, no Docker). */
export function chunkBuildCommands(outputDir: string): string[] {
  const esbuild = join(dirname(require.resolve('esbuild/package.json')), 'bin', 'esbuild');
  return lazyChunks().map((c) =>
    [
      shellQuote(esbuild),
      shellQuote(c.entry),
      `--bundle --platform=${CHUNK_BUILD.platform} --target=${CHUNK_BUILD.target} --format=${CHUNK_BUILD.format} --minify --log-level=warning`,
      `--outfile=${shellQuote(join(outputDir, c.relativeOutfile))}`,
    ].join(' '),
  );
}
