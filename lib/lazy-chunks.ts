/**
 * Modules the gateway bundle does not carry: each is bundled into a chunk of its own, shipped next to the
 * handler as `node_modules/<module>/index.js`, so Node's ordinary `require('<module>')` finds it at run
 * time. Why: V8 parses every byte of a bundle at `require` time (~55 ms per MB on the bench machine), and
 * Node runs none of these on a cold start:
 * - the tokenizer (2.7 MB) is only needed after a container's first response (lambda/core/token-estimate.ts
 *   counts with the byte upper bound until then);
 * - the price catalog (@pydantic/genai-prices, ~480 KB): the configured targets' prices are baked in as a
 *   snapshot at synth (lambda/core/price-catalog.ts), so the catalog is only required for a model the
 *   snapshot lacks;
 * - the SNS and SQS clients: a budget alert, a settlement the ledger could not take (first use, rare);
 * - the AWS SDK's credential providers other than the environment's, and the SSO/STS clients they use: a
 *   Lambda function gets its role's credentials in its environment, so the default chain stops at the
 *   first link (these are `require`d inside functions, only when that link fails; the chunks carry what
 *   they require in turn, e.g. the login provider inside the ini one);
 * - bowser, which the SDK's browser user-agent provider imports with `import()` (never called on Node;
 *   Node's ESM resolver finds the chunk's index.js as well);
 * - the AWS SDK's DynamoDB client and lib-dynamodb: the store's lean client (lambda/store/lean-client.ts)
 *   sends without them and requires them only at its first retryable error or for a command it does not
 *   cover (lambda/store/lean-sdk.ts). lib-dynamodb's chunk requires the client's chunk rather than
 *   carrying its own copy, so both share one set of classes.
 * - the Bedrock runtime client and the SDK's Node HTTP handlers (with the Smithy core under them, ~390 KB
 *   together with Powertools' parameters): a container whose targets are not on Bedrock never needs them;
 *   one that is loads them at its first Bedrock call;
 * - Powertools' parameters (the SDK's Secrets Manager client): provider keys are read by the gateway's
 *   own signed call (lambda/app/lean-secrets.ts), Powertools only when the environment asks for what only
 *   the SDK interprets.
 * A chunk bundles its own copy of what it needs (e.g. the SNS chunk its own Smithy core): loading one is
 * slower than the code inside the bundle was, which is why only code the first request does not run is here.
 * Used by the CDK construct (NodejsFunction command hook) and by the benchmark (bench/bundle.ts), so both
 * measure the same layout.
 */
import { buildSync, type BuildOptions } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

interface LazyModule {
  /** The package the bundle leaves out (esbuild `external`: its subpaths too). */
  readonly pkg: string;
  /** Only these subpaths are required from the bundle (each gets its chunk); the package itself otherwise. */
  readonly subpaths?: readonly string[];
  /** When a Lambda container first requires it; none: never in Lambda. */
  readonly firstUse?: string;
  /**
   * Packages its chunk requires from their own chunks instead of carrying a copy; with `sdkChunks`, also the
   * SDK's other credential providers, nested clients and bowser (the chunks below without a firstUse), as
   * the bundle itself does.
   */
  readonly external?: readonly string[];
  readonly sdkChunks?: boolean;
  /**
   * The chunk's entry as JavaScript source (resolved from the repository root) instead of the package's own
   * entry: the package's exports plus what else its first use needs from the same copy of the SDK.
   */
  readonly entrySource?: string;
}

const PARAMETERS_USE = 'provider keys, when the environment asks for what only the AWS SDK interprets (app/lean-secrets.ts)';
const DYNAMODB_SDK_USE = "the store's first throttled or failed-in-transit call, or a command the lean client does not cover";

const LAZY: readonly LazyModule[] = [
  { pkg: 'gpt-tokenizer', firstUse: "after the container's first response" },
  { pkg: '@pydantic/genai-prices', firstUse: 'a model outside the baked price snapshot' },
  { pkg: '@aws-sdk/client-sns', firstUse: "the container's first budget alert" },
  { pkg: '@aws-sdk/client-sqs', firstUse: 'a settlement the ledger could not take' },
  { pkg: '@aws-sdk/credential-provider-http' },
  { pkg: '@aws-sdk/credential-provider-ini' },
  { pkg: '@aws-sdk/credential-provider-process' },
  { pkg: '@aws-sdk/credential-provider-sso' },
  { pkg: '@aws-sdk/credential-provider-web-identity' },
  { pkg: '@smithy/credential-provider-imds' },
  // The token provider goes with the Bedrock client's chunk (it imports it); the SSO-OIDC client it
  // requires to refresh an SSO token does not. The other nested clients are required from the credential
  // provider chunks above, which carry their own.
  { pkg: '@aws-sdk/nested-clients', subpaths: ['sso-oidc'] },
  { pkg: 'bowser' },
  { pkg: '@aws-sdk/client-dynamodb', firstUse: DYNAMODB_SDK_USE, sdkChunks: true },
  { pkg: '@aws-sdk/lib-dynamodb', firstUse: DYNAMODB_SDK_USE, external: ['@aws-sdk/client-dynamodb'], sdkChunks: true },
  // The SDK's Node HTTP handlers (and the Smithy core under them), for the store's SDK path (lean-sdk.ts).
  // Nothing else in the bundle loads Smithy's core.
  { pkg: '@smithy/node-http-handler', firstUse: "the store's first SDK use (the Bedrock client's chunk carries its own)" },
  // The Bedrock client's chunk also hands out the HTTP/1.1 handler the adapter gives it (providers/bedrock/
  // client.ts), from the copy of the Smithy core the client itself uses: a first Bedrock call loads one
  // chunk, not this one and the handler's (each with a Smithy core of its own: 24.5 ms more in the 18:41
  // bench record).
  {
    pkg: '@aws-sdk/client-bedrock-runtime',
    firstUse: "the container's first Bedrock call",
    sdkChunks: true,
    entrySource: "module.exports = require('@aws-sdk/client-bedrock-runtime'); module.exports.NodeHttpHandler = require('@smithy/node-http-handler').NodeHttpHandler;",
  },
  // Provider keys are read by app/lean-secrets.ts; Powertools (with the SDK's Secrets Manager client) only
  // when Lambda's environment asks for what only the SDK interprets.
  { pkg: '@aws-lambda-powertools/parameters', subpaths: ['secrets'], firstUse: PARAMETERS_USE, sdkChunks: true },
];

export const LAZY_CHUNK_MODULES: readonly string[] = LAZY.map((m) => m.pkg);

export interface LazyChunk {
  /** The name the bundle requires it by (a package, or a package subpath). */
  module: string;
  /** Its CommonJS entry, resolved from this repository's node_modules. */
  entry: string;
  /** Where the chunk goes, relative to the bundle's folder. */
  relativeOutfile: string;
  firstUse?: string;
  external?: readonly string[];
  /** The entry as source (LazyModule.entrySource), built in place of `entry`. */
  entrySource?: string;
}

/** The chunks no Lambda container requires on its own (credential providers, nested clients, bowser). */
const SDK_CHUNKS = LAZY.filter((m) => m.firstUse === undefined).flatMap(({ pkg, subpaths }) => (subpaths ?? ['']).map((sub) => (sub ? `${pkg}/${sub}` : pkg)));

export function lazyChunks(): LazyChunk[] {
  return LAZY.flatMap(({ pkg, subpaths, firstUse, external, sdkChunks, entrySource }) =>
    (subpaths ?? ['']).map((sub) => {
      const module = sub ? `${pkg}/${sub}` : pkg;
      const left = [...(external ?? []), ...(sdkChunks ? SDK_CHUNKS : [])];
      return { module, entry: require.resolve(module), relativeOutfile: join('node_modules', module, 'index.js'), firstUse, external: left, ...(entrySource ? { entrySource } : {}) };
    }),
  );
}

/**
 * esbuild options shared by every chunk (the handler bundle's platform, target, format and conditions).
 * `conditions: ['node']` resolves packages as Node itself does: without it esbuild also honours the
 * `module` condition, and the AWS SDK's packages list it first, so their ESM builds were bundled (hundreds
 * of small modules, each initialised through esbuild's ESM wrapper) instead of the flat CommonJS files
 * Node and the tests run: ~10 % of the gateway's cold require (bench/cold-compare.ts).
 */
export const CHUNK_BUILD = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  conditions: ['node'],
} satisfies BuildOptions;

let built: Map<string, string> | undefined;

/**
 * Every chunk, built once per process (a synth bundles the gateway once per stack; tests build several
 * stacks) into a temporary folder: module name → built file.
 */
export function builtChunks(): ReadonlyMap<string, string> {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-chunks-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const files = new Map<string, string>();
  for (const c of lazyChunks()) {
    const outfile = join(dir, c.relativeOutfile);
    const entry = c.entrySource ? { stdin: { contents: c.entrySource, resolveDir: dirname(__dirname), sourcefile: `${c.module}/index.js`, loader: 'js' as const } } : { entryPoints: [c.entry] };
    buildSync({ ...CHUNK_BUILD, ...entry, outfile, external: [...(c.external ?? [])], logLevel: 'warning' });
    files.set(c.module, outfile);
  }
  built = files;
  return files;
}

/** A chunk's built file: every lazy chunk is built (builtChunks), so a missing one is a bug, never the unbundled entry. */
export function builtChunkFile(files: ReadonlyMap<string, string>, module: string): string {
  const file = files.get(module);
  if (!file) throw new Error(`lazy chunk ${module} was not built`);
  return file;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shell commands for NodejsFunction's `commandHooks.afterBundling`: the chunks copied next to the bundle. */
export function chunkBuildCommands(outputDir: string): string[] {
  const files = builtChunks();
  return lazyChunks().map((c) => {
    const target = join(outputDir, c.relativeOutfile);
    return `mkdir -p ${shellQuote(dirname(target))} && cp ${shellQuote(builtChunkFile(files, c.module))} ${shellQuote(target)}`;
  });
}
