/**
 * Local esbuild bundling (no Docker): the validated config is baked into the bundle through `define`, a
 * source map ships with it, and provider keys from the environment end up in neither the bundle nor the
 * template. One test bundles the real gateway handler, whatever state it is in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { HANDLERS_DIR } from '../../lib/gateway-stack';
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
  it('bundles with local esbuild', () => {
    const made = makeStack({ gatewayEntry: resolve(HANDLERS_DIR, 'gateway.ts') });
    const dir = gatewayAssetDir(made);
    expect(existsSync(join(dir, 'index.js'))).toBe(true);
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toMatch(/handler/);
  });
});
