/**
 * A Lambda container shut down by Lambda: when an execution environment is retired (idle, scaled in),
 * Lambda sends the runtime SIGTERM (given an extension is registered: lib/constructs/shutdown-extension.ts)
 * and SIGKILLs it ~300 ms later. The gateway's Lambda entry, in a process of its own
 * (test/support/lambda-container.ts: the sources, the function's environment, provider keys from a Secrets
 * Manager double, the store on DynamoDB Local, the OpenAI double upstream), is frozen after its invocation
 * as Lambda freezes it (SIGSTOP: no timer runs), then thawed and sent a real SIGTERM.
 *
 * What is at stake: a container holds admission leases (budget headroom taken out of the shared counter,
 * docs/table-design.md) across invocations. One that dies holding them is found by the sweeper, which
 * charges whatever they still held as spent: headroom nobody used, charged to the team's hard budget.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { periodKey } from '../../lambda/core/budgets';
import { parseConfig } from '../../lambda/core/config';
import { costMicros, priceFor } from '../../lambda/core/pricing';
import { FROZEN_HOLD_MS } from '../../lambda/handlers/gateway-handler';
import { documentClient } from '../../lambda/store/dynamo';
import { createDynamoGatekeeper } from '../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey } from '../../lambda/store/item-keys';
import { KeyStore } from '../../lambda/store/key-store';
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { startSecretsManagerDouble, type SecretsManagerDouble } from '../doubles/secrets-manager-double';
import { functionEnv, writeAwsLambdaStub } from '../support/bundle-probe';
import { createTestTables, deleteTestTables, ENDPOINT_ENV, testDynamoClient, type TestTables } from '../support/dynamodb-local';
import { restProxyEvent } from '../support/lambda-streaming-emulator';

jest.setTimeout(90_000);

const REPO = join(__dirname, '..', '..');
const USAGE = { promptTokens: 12, completionTokens: 40 };
const ACTUAL = costMicros({ inputTokens: 12, outputTokens: 40, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, priceFor({ providers: {}, pricing: {} }, 'openai', 'gpt-4o-mini')!);
const CONFIG = (upstreamUrl: string) => ({
  providers: { openai: { kind: 'openai-compatible', baseUrl: `${upstreamUrl}/v1`, apiKey: { env: 'UNUSED_IN_LAMBDA' } } },
  models: { gpt: { maxOutputTokens: 500, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] } },
  deployment: { timeoutSeconds: 30 },
});

/** TCP to DynamoDB Local that can stop answering: bytes sent after `hang()` go nowhere (a store that hangs). */
async function startStoreProxy(target: string): Promise<{ url: string; hang(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  let hanging = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const store = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client).add(store);
    client.on('data', (b: Buffer) => void (hanging || store.write(b)));
    store.on('data', (b: Buffer) => void (hanging || client.write(b)));
    const end = () => {
      client.destroy();
      store.destroy();
    };
    client.on('close', end).on('error', end);
    store.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    hang: () => void (hanging = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Container {
  child: ChildProcess;
  url: string;
  /** Resolves when it exits; afterMs counts from its SIGTERM (retire()). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
  retiredAt: number;
  stderr(): string;
}

let stubDir: string;
let upstream: UpstreamDouble;
let secrets: SecretsManagerDouble;
let tables: TestTables;
const dynamo = testDynamoClient();
const live: Container[] = [];

beforeAll(async () => {
  stubDir = mkdtempSync(join(tmpdir(), 'tollgate-shutdown-'));
  upstream = await startOpenAIDouble();
  secrets = await startSecretsManagerDouble({ openai: 'fake-provider-key' });
  tables = await createTestTables(dynamo, 'lshutdown');
});

afterAll(async () => {
  for (const c of live) c.child.kill('SIGKILL');
  await upstream.close();
  await secrets.close();
  await deleteTestTables(dynamo, tables);
  rmSync(stubDir, { recursive: true, force: true });
});

async function startContainer(storeUrl = process.env[ENDPOINT_ENV] ?? ''): Promise<Container> {
  const child = spawn(process.execPath, ['--require', writeAwsLambdaStub(stubDir), '--import', 'tsx', join('test', 'support', 'lambda-container.ts')], {
    cwd: REPO,
    env: {
      ...functionEnv(tables),
      AWS_ENDPOINT_URL_DYNAMODB: storeUrl,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      TOLLGATE_CONFIG_JSON: JSON.stringify(CONFIG(upstream.url)),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const container = { child, url: '', retiredAt: 0, stderr: () => err } as Container;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, afterMs: Date.now() - container.retiredAt })),
  );
  container.exited = exited;
  container.url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`container did not start within 60 s:\n${err}`)), 60_000);
    child.stderr?.on('data', () => {
      const m = /lambda container listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`container exited (${code}) before listening:\n${err}`));
    });
  });
  live.push(container);
  return container;
}

async function invoke(container: Container, apiKey: string): Promise<{ metadata: { statusCode: number }; body: string }> {
  const event = restProxyEvent({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt', max_tokens: 100, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const res = await fetch(`${container.url}/invoke`, { method: 'POST', body: JSON.stringify(event) });
  return (await res.json()) as { metadata: { statusCode: number }; body: string };
}

/** Lambda freezes a container between invocations (its timers with it): SIGSTOP does the same here. */
function freeze(container: Container): void {
  container.child.kill('SIGSTOP');
}

/** Lambda thaws the container to retire it, then sends SIGTERM. */
function retire(container: Container): void {
  container.child.kill('SIGCONT');
  container.retiredAt = Date.now();
  container.child.kill('SIGTERM');
}

async function keyWithHardBudget(name: string): Promise<{ apiKey: string; keyId: string }> {
  const { apiKey, key } = await new KeyStore({ client: dynamo, table: tables.keys }).create({ name, budgets: [{ scope: 'key', period: 'day', limitUsd: 5, mode: 'hard' }] });
  return { apiKey, keyId: key.keyId };
}

/** The key's budget counter for today, and the admission leases open on it (`alease_<id>` attributes). */
async function counter(keyId: string): Promise<{ spent: number; reserved: number; committed: number; reclaimed: number; leases: string[] }> {
  const out = await documentClient(dynamo).send(new GetCommand({ TableName: tables.ledger, Key: budgetCounterKey('key', keyId, periodKey('day', Date.now())), ConsistentRead: true }));
  const item = out.Item ?? {};
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return { spent: n(item.spent), reserved: n(item.reserved), committed: n(item.committed), reclaimed: n(item.reclaimed), leases: Object.keys(item).filter((a) => a.startsWith('alease_')) };
}

/** The sweeper function, run `laterMs` from now (default: once even a frozen container's leases have expired). */
async function sweepLater(laterMs = FROZEN_HOLD_MS + 1) {
  const sweeper = createDynamoGatekeeper({ client: dynamo, tables, config: parseConfig(CONFIG(upstream.url)) });
  return sweeper.sweepExpiredReservations(Date.now() + laterMs);
}

/** The usual lease time: the function's timeout + 120 s (what a request's own lease gets). */
const REQUEST_LEASE_MS = (CONFIG('').deployment.timeoutSeconds + 120) * 1_000;

describe('Lambda container retired by Lambda (SIGTERM)', () => {
  it('gives its admission leases back before it exits: the budget keeps what was spent, the sweeper has nothing to reclaim', async () => {
    upstream.setDefault({ kind: 'ok', chunkCount: 5, usage: USAGE });
    const { apiKey, keyId } = await keyWithHardBudget('retired');
    const container = await startContainer();
    const res = await invoke(container, apiKey);
    freeze(container);
    expect(res.metadata.statusCode).toBe(200);
    expect(res.body).toContain('[DONE]');

    // After the invocation the container keeps its lease (the next request is admitted from it, in memory),
    // holding one worst case of the request it served (lambda-runtime.ts LAMBDA_KEEP_WORST_CASES): 100 output
    // tokens at $0.60/M are 60 µ$, the short prompt's estimate a few more. Sized by the recent rate, as until
    // 2026-12-02, it held 98 µ$ here.
    const held = await counter(keyId);
    expect(held.leases).toHaveLength(1);
    expect(held.spent).toBe(ACTUAL);
    expect(held.reserved).toBeGreaterThanOrEqual(60);
    expect(held.reserved).toBeLessThan(70);

    // Frozen and idle for longer than a request's lease (Lambda keeps idle containers for minutes): the
    // container is not dead, and the sweeper leaves its lease alone.
    expect((await sweepLater(REQUEST_LEASE_MS + 10 * 60_000)).reclaimedLeases).toBe(0);
    expect(await counter(keyId)).toEqual(held);

    retire(container);
    const exit = await container.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });

    const after = await counter(keyId);
    expect(after).toEqual({ spent: ACTUAL, reserved: 0, committed: ACTUAL, reclaimed: 0, leases: [] });
    expect((await sweepLater()).reclaimedLeases).toBe(0);
    expect(await counter(keyId)).toEqual(after);
  });

  it('exits within Lambda’s shutdown window when the store does not answer; the lease is left to the sweeper', async () => {
    upstream.setDefault({ kind: 'ok', chunkCount: 5, usage: USAGE });
    const { apiKey, keyId } = await keyWithHardBudget('retired-store-down');
    const proxy = await startStoreProxy(process.env[ENDPOINT_ENV] ?? '');
    try {
      const container = await startContainer(proxy.url);
      expect((await invoke(container, apiKey)).metadata.statusCode).toBe(200);
      freeze(container);
      const held = await counter(keyId);
      expect(held.leases).toHaveLength(1);

      proxy.hang();
      retire(container);
      const exit = await container.exited;
      // Lambda allows the runtime 300 ms before SIGKILL; the handler gives up on the store before that.
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.afterMs).toBeLessThan(2_000);
      expect(container.stderr()).toMatch(/admission leases not given back/);

      // Nothing was given back: the sweeper charges what the lease held (never less than was spent).
      expect(await counter(keyId)).toEqual(held);
      expect((await sweepLater()).reclaimedLeases).toBe(1);
      const swept = await counter(keyId);
      expect(swept).toMatchObject({ reserved: 0, leases: [], spent: held.spent + held.reserved });
    } finally {
      await proxy.close();
    }
  });
});
