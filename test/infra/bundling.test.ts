/**
 * Local esbuild bundling (no Docker): the validated config is baked into the bundle through `define`, a
 * source map ships with it, and provider keys from the environment end up in neither the bundle nor the
 * template. One test bundles the real gateway handler, whatever state it is in.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { AWSLAMBDA_STUB, LAMBDA_ENV } from '../../bench/bundle';
import { HANDLERS_DIR } from '../../lib/gateway-stack';
import { lazyChunks } from '../../lib/lazy-chunks';
import { CATALOG_VERSION } from '../../lambda/core/price-catalog';
import { priceQuote } from '../../lambda/core/pricing';
import { FIXTURES, makeStack, type MadeStack } from './support/make-stack';

const SENTINEL = 'fake-sentinel-never-in-any-artifact';
const KEY_ENVS = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'MISTRAL_API_KEY', 'DEEPSEEK_API_KEY'];

function gatewayAssetDir(made: MadeStack): string {
  const assembly = made.app.synth();
  const fn = Object.values(made.template.findResources('AWS::Lambda::Function')).find((r) =>
    String((r as { Properties: { Description?: string } }).Properties.Description).includes('gateway'),
  ) as { Properties: { Code: { S3Key: string } } };
  const hash = fn.Properties.Code.S3Key.replace(/\.zip$/, '');
  return join(assembly.directory, `asset.${hash}`);
}

/** The Lambda runtime's `awslambda` global, as a --require preload (the bench's stub). */
function stubFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollgate-stub-')), 'awslambda-stub.cjs');
  writeFileSync(file, AWSLAMBDA_STUB);
  return file;
}

describe('Gateway function bundle', () => {
  let made: MadeStack;
  let dir: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    for (const name of KEY_ENVS) {
      saved[name] = process.env[name];
      process.env[name] = SENTINEL;
    }
    made = makeStack({ gatewayEntry: resolve(FIXTURES, 'echo-config.ts') });
    dir = gatewayAssetDir(made);
  });

  afterAll(() => {
    for (const name of KEY_ENVS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('is one minified CommonJS file with a source map', () => {
    expect(existsSync(join(dir, 'index.js'))).toBe(true);
    expect(existsSync(join(dir, 'index.js.map'))).toBe(true);
    const code = readFileSync(join(dir, 'index.js'), 'utf8');
    expect(code).toContain('module.exports');
    expect(code.split('\n').length).toBeLessThan(10);
  });

  it('carries the validated config, defaults filled in, as __TOLLGATE_CONFIG__', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, 'index.js')) as { handler: () => Promise<unknown> };
    const baked = await mod.handler();
    expect(baked).toEqual(JSON.parse(JSON.stringify(made.settings)));
    expect(baked).toMatchObject({ deployment: { stageName: 'prod', timeoutSeconds: 300 }, metering: { requestRecordTtlDays: 90 } });
  });

  it('never carries a provider key from the environment, in the bundle or the template', () => {
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).not.toContain(SENTINEL);
    expect(JSON.stringify((made.template as Template).toJSON())).not.toContain(SENTINEL);
  });
});

describe('The real gateway handler', () => {
  let dir: string;
  beforeAll(() => {
    dir = gatewayAssetDir(makeStack({ gatewayEntry: resolve(HANDLERS_DIR, 'gateway.ts') }));
  });

  it('bundles with local esbuild', () => {
    expect(existsSync(join(dir, 'index.js'))).toBe(true);
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toMatch(/handler/);
  });

  it('ships the tokenizer as a chunk next to the bundle, not inside it (kept out of the cold start)', () => {
    const bundle = readFileSync(join(dir, 'index.js'));
    const chunk = join(dir, 'node_modules', 'gpt-tokenizer', 'index.js');
    expect(existsSync(chunk)).toBe(true);
    // The bundle requires it by name, and Node resolves that name to the chunk from the bundle's folder.
    expect(bundle.toString('utf8')).toContain('require("gpt-tokenizer")');
    expect(createRequire(join(dir, 'index.js')).resolve('gpt-tokenizer')).toBe(chunk);
    // o200k's ranks are megabytes: they are in the chunk, and the bundle is a fraction of its old 4 MB.
    expect(statSync(chunk).size).toBeGreaterThan(2_000_000);
    // Was 1.9 MB with the price catalog inside; 1.42 MB without it; 1.06 MB once zod's locales were shaken
    // off (namespace imports: lambda/core/openai-schema.ts). The AWS SDK, zod's core and our code remain.
    expect(bundle.length).toBeLessThan(1_150_000);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tokenizer = require(chunk) as { countTokens(text: string): number };
    expect(tokenizer.countTokens('hello world')).toBe(2);
  });

  it('carries packages as Node resolves them (the AWS SDK\'s CommonJS builds, not its ESM ones)', () => {
    const { sources } = JSON.parse(readFileSync(join(dir, 'index.js.map'), 'utf8')) as { sources: string[] };
    expect(sources.some((s) => s.includes('/@aws-sdk/util-dynamodb/dist-cjs/'))).toBe(true);
    expect(sources.filter((s) => s.includes('/dist-es/'))).toEqual([]);
  });

  it('carries no AWS SDK client and no Smithy core: Bedrock, the HTTP handlers and Secrets Manager are chunks', () => {
    const { sources } = JSON.parse(readFileSync(join(dir, 'index.js.map'), 'utf8')) as { sources: string[] };
    const sdk = sources.filter((s) => /\/(@smithy\/core|@aws-sdk\/client-[a-z-]+|@aws-sdk\/core|@aws-lambda-powertools\/parameters)\//.test(s));
    expect(sdk).toEqual([]);
    for (const module of ['@aws-sdk/client-bedrock-runtime', '@smithy/node-http-handler', '@aws-lambda-powertools/parameters/secrets']) {
      expect(existsSync(join(dir, 'node_modules', module, 'index.js'))).toBe(true);
    }
    // Was 1.15 MB before the chunks; the bench measured 758 KB minified with the SDK clients in, ~370 KB without.
    expect(statSync(join(dir, 'index.js')).size).toBeLessThan(500_000);
  });

  it('finds every module it leaves out in a chunk next to it, and loads none of them at require', () => {
    const bundleFile = join(dir, 'index.js');
    const code = readFileSync(bundleFile, 'utf8');
    const required = [...new Set([...code.matchAll(/(?:require|import)\(["']([^"']+)["']\)/g)].map((m) => m[1]))].filter((name) => !isBuiltin(name));
    // The bundle requires the chunks a container may need; the SDK's chunks that no container needs on its
    // own (credential providers, nested clients, bowser) are required by the chunks that carry the SDK.
    expect(required.sort()).toEqual(lazyChunks().filter((c) => c.firstUse).map((c) => c.module).sort());
    for (const c of lazyChunks()) expect(createRequire(bundleFile).resolve(c.module)).toBe(join(dir, 'node_modules', c.module, 'index.js'));
    const chunkCode = lazyChunks()
      .filter((c) => c.firstUse)
      .map((c) => readFileSync(join(dir, 'node_modules', c.module, 'index.js'), 'utf8'))
      .join('\n');
    const byChunks = new Set([...chunkCode.matchAll(/(?:require|import)\(["']([^"']+)["']\)/g)].map((m) => m[1]));
    for (const c of lazyChunks().filter((c) => !c.firstUse)) expect([c.module, byChunks.has(c.module)]).toEqual([c.module, true]);
    // A cold start (the function's environment, the runtime's awslambda global) requires no chunk.
    const script = `require(${JSON.stringify(bundleFile)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`;
    const stub = stubFile();
    const loaded = JSON.parse(execFileSync(process.execPath, ['--require', stub, '-e', script], { encoding: 'utf8', env: LAMBDA_ENV })) as string[];
    expect(loaded.filter((file) => file !== stub)).toEqual([bundleFile]);
  });

  it('ships the price catalog as a chunk too, with the configured targets\' prices baked in instead', () => {
    const bundle = readFileSync(join(dir, 'index.js'), 'utf8');
    const chunk = join(dir, 'node_modules', '@pydantic', 'genai-prices', 'index.js');
    expect(existsSync(chunk)).toBe(true);
    expect(bundle).toContain('require("@pydantic/genai-prices")');
    expect(createRequire(join(dir, 'index.js')).resolve('@pydantic/genai-prices')).toBe(chunk);
    // The catalog's data (e.g. its model descriptions and its remote data URL) is in the chunk, not the bundle.
    expect(bundle).not.toContain('genai-prices/main/prices');
    expect(bundle).not.toContain('Fastest, most cost-effective model');
    expect(readFileSync(chunk, 'utf8')).toContain('Fastest, most cost-effective model');
    expect(statSync(chunk).size).toBeGreaterThan(400_000);
    expect(bundle).toContain(CATALOG_VERSION);
  });
});

describe('The price snapshot in a bundle', () => {
  let made: MadeStack;
  let dir: string;
  beforeAll(() => {
    made = makeStack({ gatewayEntry: resolve(FIXTURES, 'price-probe.ts') });
    dir = gatewayAssetDir(made);
  });

  /** Runs the bundled probe in a plain `node` (Node's own require and module cache, as in Lambda). */
  function probe(targets: Array<{ provider: string; model: string }>): Array<{ quote: unknown; catalogLoaded: boolean }> {
    const script = `require(${JSON.stringify(join(dir, 'index.js'))}).handler(${JSON.stringify(targets)}).then((r) => process.stdout.write(JSON.stringify(r)))`;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Array<{ quote: unknown; catalogLoaded: boolean }>;
  }

  it('prices the configured targets exactly as the catalog does, without loading the catalog; an unconfigured model loads it', () => {
    const configured = [
      { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' },
      { provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
      { provider: 'openai', model: 'gpt-4o-mini' },
      { provider: 'deepseek', model: 'deepseek-chat' },
    ];
    const direct = { provider: 'openai', model: 'gpt-4.1-mini' };
    const results = probe([...configured, direct]);
    const expected = [...configured, direct].map((t) => ({ quote: priceQuote(made.settings, t.provider, t.model) }));
    expect(results.map(({ quote }) => ({ quote }))).toEqual(JSON.parse(JSON.stringify(expected)));
    // Tiers survive the snapshot (Sonnet 4.5's long-context price).
    expect(results[0].quote).toMatchObject({ price: { tiers: [{ aboveInputTokens: 200_000, input: 6 }] } });
    expect(results.map((r) => r.catalogLoaded)).toEqual([false, false, false, false, true]);
  });
});

describe('The request schemas in a bundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = gatewayAssetDir(makeStack({ gatewayEntry: resolve(FIXTURES, 'schema-probe.ts') }));
  });

  // Bad bodies of every surface whose 400s quote zod's own messages (type, enum, range, unknown key, refine).
  const cases = [
    { surface: 'chat', body: { messages: [{ role: 'user', content: 'hi' }] } },
    { surface: 'chat', body: { model: 42, messages: [] } },
    { surface: 'chat', body: { model: 'm', messages: [{ role: 'wizard', content: 'hi' }] } },
    { surface: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 7 } },
    { surface: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 1.5 } },
    { surface: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], tool_choice: 'auto' } },
    { surface: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } },
    { surface: 'messages', body: { model: 'm', max_tokens: 'many', messages: [] } },
    { surface: 'messages', body: { model: 'm', max_tokens: 10, messages: [{ role: 'bot', content: 'hi' }] } },
    { surface: 'messages', body: { model: 'm', max_tokens: 10, thinking: { type: 'enabled', budget_tokens: 20 }, messages: [{ role: 'user', content: 'hi' }] } },
    { surface: 'responses', body: { model: 'm', input: 5 } },
    { surface: 'responses', body: { model: 'm', input: 'hi', max_output_tokens: -1 } },
    { surface: 'embeddings', body: { model: 'm', input: 'hi', encoding_format: 'hex' } },
    { surface: 'embeddings', body: { model: 'm', input: 'hi', color: 'blue' } },
    { surface: 'embeddings', body: { model: 'm', input: [] } },
  ];

  it('answers bad bodies with the same status and error body as the sources (zod as bundled, not as in node_modules)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bundled = (await (require(join(dir, 'index.js')) as { handler: (c: typeof cases) => Promise<unknown[]> }).handler(cases)) as unknown[];
    const { handler } = await import('./fixtures/schema-probe');
    expect(bundled).toEqual(await handler(cases));
    // The probe exercises zod's wording, not only our own messages.
    expect(JSON.stringify(bundled)).toMatch(/Invalid option: expected one of/);
    expect(bundled.filter((r) => r === 'ok')).toHaveLength(1);
  });
});

describe('Stack traces of a bundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = gatewayAssetDir(makeStack({ gatewayEntry: resolve(FIXTURES, 'stack-probe.ts') }));
  });

  it('name the TypeScript source and line, with the source map read on the first trace, not at load', () => {
    // Plain `node`, no --enable-source-maps (the gateway function has none); fs reads of the map recorded.
    const script = `const fs = require('node:fs'); const reads = []; const read = fs.readFileSync;
fs.readFileSync = function (p, ...rest) { reads.push(String(p)); return read.call(this, p, ...rest); };
const mod = require(${JSON.stringify(join(dir, 'index.js'))});
const atLoad = reads.filter((p) => p.endsWith('.map')).length;
mod.handler().then((stack) => process.stdout.write(JSON.stringify({ atLoad, after: reads.filter((p) => p.endsWith('.map')).length, stack, again: new Error('x').stack })));`;
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { atLoad: number; after: number; stack: string; again: string };
    expect(r.atLoad).toBe(0);
    // As --enable-source-maps prints it: the original function name, source file, line and column.
    expect(r.stack).toMatch(/^Error: probe: on purpose\n {4}at explode \(\S*test\/infra\/fixtures\/stack-probe\.ts:10:9\)\n/);
    expect(r.stack).not.toMatch(/index\.js:1:\d+\)\n/);
    // Read once per process, however many traces follow.
    expect(r.after).toBe(1);
    expect(r.again).toMatch(/^Error: x\n {4}at /);
  });
});
