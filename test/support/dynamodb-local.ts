/**
 * DynamoDB Local for the integration tests: one server per jest run (started by global-setup, stopped by
 * global-teardown), and per-test-file tables created from the same key schema the CDK stack uses.
 * Only loopback, fake static credentials, region us-east-1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ensureTables } from '../../lambda/store/create-tables';

export const ENDPOINT_ENV = 'TOLLGATE_TEST_DYNAMODB_ENDPOINT';

const EMULATOR_DIR = join(__dirname, '..', '..', 'node_modules', 'amplify-dynamodb-simulator', 'emulator');

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) {
    throw new Error(
      'DynamoDB Local needs a Java runtime (17+) on PATH, and `java -version` failed. ' +
        'Install one (e.g. `apt-get install default-jre-headless`, or run .ci/run which does it) and retry.',
    );
  }
  const jar = join(EMULATOR_DIR, 'DynamoDBLocal.jar');
  if (!existsSync(jar)) throw new Error(`DynamoDB Local jar not found at ${jar}; run npm ci (amplify-dynamodb-simulator ships it).`);

  const port = await freePort();
  const child = spawn(
    'java',
    [`-Djava.library.path=${join(EMULATOR_DIR, 'DynamoDBLocal_lib')}`, '-jar', jar, '-inMemory', '-sharedDb', '-port', String(port)],
    { cwd: EMULATOR_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(endpoint, child, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { endpoint, stop: () => stopChild(child) };
}

/** A client for the test endpoint; never looks for real credentials. */
export function testDynamoClient(endpoint = process.env[ENDPOINT_ENV]): DynamoDBClient {
  if (!endpoint) throw new Error(`${ENDPOINT_ENV} is not set: the jest globalSetup starts DynamoDB Local and sets it.`);
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 3,
    // The concurrency tests fire hundreds of requests at once; let them all be in flight.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: 512 } },
  });
}

export interface TestTables {
  keys: string;
  ledger: string;
}

/** Uniquely named keys/ledger tables for one test file, built from table-schema.ts. */
export async function createTestTables(client: DynamoDBClient, prefix: string): Promise<TestTables> {
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const tables = { keys: `${prefix}-keys-${suffix}`, ledger: `${prefix}-ledger-${suffix}` };
  await ensureTables(client, tables);
  return tables;
}

export async function deleteTestTables(client: DynamoDBClient, tables: TestTables): Promise<void> {
  await Promise.all([tables.keys, tables.ledger].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const client = testDynamoClient(endpoint);
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${output()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1_000) });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${endpoint} within 30 s:\n${output()}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } finally {
    client.destroy();
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
