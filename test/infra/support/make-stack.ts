/**
 * Builds a TollgateStack for assertions: the repo's example config with overrides deep-merged in, and
 * tiny fixture handlers so esbuild bundles in milliseconds. Synthesize once per test file (beforeAll).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_CONFIG_PATH } from '../../../lambda/config-loader';
import { parseConfig, type TollgateConfig } from '../../../lambda/core/config';
import { TollgateStack } from '../../../lib/gateway-stack';

export const FIXTURES = resolve(__dirname, '..', 'fixtures');
export const NOOP_HANDLER = resolve(FIXTURES, 'noop.ts');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ConfigOverrides = { [key: string]: Json | undefined };

export function exampleConfigJson(): { [key: string]: Json } {
  return JSON.parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as { [key: string]: Json };
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; anything else (arrays included) replaces; `undefined` deletes the key. */
export function deepMerge(base: { [key: string]: Json }, overrides: ConfigOverrides): { [key: string]: Json } {
  const out: { [key: string]: Json } = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[key];
    else if (isObject(value) && isObject(out[key])) out[key] = deepMerge(out[key], value);
    else out[key] = value;
  }
  return out;
}

export function makeConfig(overrides: ConfigOverrides = {}, base: { [key: string]: Json } = exampleConfigJson()): TollgateConfig {
  return parseConfig(deepMerge(base, overrides));
}

export interface MadeStack {
  app: App;
  stack: TollgateStack;
  template: Template;
  settings: TollgateConfig;
}

export interface MakeStackOptions {
  /** Deep-merged over the example config. */
  config?: ConfigOverrides;
  /** A whole config instead of the example (overrides still apply on top). */
  configJson?: { [key: string]: Json };
  /** Gateway handler entry; defaults to a no-op fixture (the real handler is bundled by `cdk synth`). */
  gatewayEntry?: string;
  /** Build into this app (e.g. one with validation plugins registered); default a new App. */
  app?: App;
}

/**
 * A test app. CDK's built-in CloudFormation schema validation (a WASM engine, ~8 s to start) is off here
 * and on in the one test that synthesizes the way `cdk synth` does (test/infra/nag.test.ts).
 */
export function testApp(options: { cfnValidation?: boolean } = {}): App {
  return new App({ builtinCloudFormationValidation: options.cfnValidation ?? false });
}

export function makeStack(options: MakeStackOptions = {}): MadeStack {
  const settings = makeConfig(options.config, options.configJson);
  const app = options.app ?? testApp();
  const stack = new TollgateStack(app, 'Tollgate', {
    settings,
    gatewayEntry: options.gatewayEntry ?? NOOP_HANDLER,
    sweeperEntry: NOOP_HANDLER,
    forecasterEntry: NOOP_HANDLER,
    chargebackExportEntry: NOOP_HANDLER,
    outboxEntry: NOOP_HANDLER,
  });
  return { app, stack, template: Template.fromStack(stack), settings };
}
