/**
 * Running a built gateway bundle in a plain `node` child, as a cold Lambda container would (the runtime's
 * `awslambda` global stubbed, the function's environment, the store on DynamoDB Local), and reading back
 * what a probe script reports. The handler's own logs and EMF go to stdout too: the report follows a mark.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWSLAMBDA_STUB, LAMBDA_ENV } from '../../bench/bundle';
import { KeyStore } from '../../lambda/store/key-store';
import { createTestTables, deleteTestTables, ENDPOINT_ENV, testDynamoClient, type TestTables } from './dynamodb-local';
import { restProxyEvent } from './lambda-streaming-emulator';

/** What a probe script writes before its JSON report. */
export const PROBE_MARK = '\n--- probe result ---\n';

/** The `awslambda` stub, written into `dir`, for `--require`. */
export function writeAwsLambdaStub(dir: string): string {
  const stub = join(dir, 'awslambda-stub.cjs');
  writeFileSync(stub, AWSLAMBDA_STUB);
  return stub;
}

export interface BundledGateway {
  tables: TestTables;
  /** A key created in the tables' key store. */
  apiKey: string;
  /** The folder the bundle and the stub are in. */
  dir: string;
  bundle: string;
  stub: string;
}

/**
 * For a test file: its own tables with one key, a bundle `build` writes into a fresh folder (returns the
 * bundle's path) and the `awslambda` stub next to it; set up before the file's tests, removed after. The
 * fields are filled in by then.
 */
export function useBundledGateway(name: string, build: (dir: string) => Promise<string>): BundledGateway {
  const dynamo = testDynamoClient();
  const fixture = {} as BundledGateway;
  beforeAll(async () => {
    fixture.tables = await createTestTables(dynamo, name);
    ({ apiKey: fixture.apiKey } = await new KeyStore({ client: dynamo, table: fixture.tables.keys }).create({ name }));
    fixture.dir = mkdtempSync(join(tmpdir(), `tollgate-${name}-`));
    fixture.bundle = await build(fixture.dir);
    fixture.stub = writeAwsLambdaStub(fixture.dir);
  }, 120_000);
  afterAll(async () => {
    if (fixture.tables) await deleteTestTables(dynamo, fixture.tables);
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

/** The gateway function's environment, its tables and the store on DynamoDB Local (as AWS_ENDPOINT_URL_DYNAMODB). */
export function functionEnv(tables?: TestTables): NodeJS.ProcessEnv {
  return {
    ...LAMBDA_ENV,
    ...(tables ? { TOLLGATE_KEYS_TABLE: tables.keys, TOLLGATE_LEDGER_TABLE: tables.ledger } : {}),
    AWS_ENDPOINT_URL_DYNAMODB: process.env[ENDPOINT_ENV] ?? '',
  };
}

/**
 * Runs `script` (which ends by writing PROBE_MARK and its JSON report) in a fresh node process; the report.
 * The node is Lambda's (Node 22) when TOLLGATE_LAMBDA_NODE names one (.ci/run installs it), as the bundle is
 * deployed to nodejs22.x; this process's node otherwise.
 */
export function runProbe<T>(script: string, env: NodeJS.ProcessEnv, stub?: string): T {
  const out = execFileSync(process.env.TOLLGATE_LAMBDA_NODE || process.execPath, [...(stub ? ['--require', stub] : []), '-e', script], { env, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.slice(out.lastIndexOf(PROBE_MARK) + PROBE_MARK.length)) as T;
}

/**
 * As runProbe, without blocking this process: for a probe that calls servers running in it (upstream and
 * Secrets Manager doubles on loopback).
 */
export function runProbeAsync<T>(script: string, env: NodeJS.ProcessEnv, stub?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.env.TOLLGATE_LAMBDA_NODE || process.execPath, [...(stub ? ['--require', stub] : []), '-e', script], { env, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) => {
      if (err) return reject(new Error(`probe failed: ${err.message}\n${stderr.slice(0, 4000)}`));
      resolve(JSON.parse(out.slice(out.lastIndexOf(PROBE_MARK) + PROBE_MARK.length)) as T);
    });
  });
}

/** A chat request for a model the baked config lacks: authenticated against the store, refused before any upstream call. */
export function unknownModelChatEvent(apiKey: string): unknown {
  return restProxyEvent({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
}
