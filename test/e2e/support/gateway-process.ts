/**
 * The local gateway as a real child process (`node --import tsx lambda/local/main.ts`, what `npm start`
 * runs), with its embedded store in a temp data folder, so tests can `kill -9` it, SIGTERM it and restart
 * it on the same data. The test reaches the store the way the admin CLI does: through endpoint.json while
 * the process runs, or by opening the folder itself once it is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { openLocalStore, type LocalStore } from '../../../lambda/local/embedded-dynamo';
import { KeyStore, type CreateKeyInput } from '../../../lambda/store/key-store';
import { UsageReader } from '../../../lambda/store/usage-store';
import type { UsageRecord } from '../../../lambda/core/metering';

const REPO = join(__dirname, '..', '..', '..');
export const UPSTREAM_KEY = 'fake-upstream-key-for-process-tests';

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
}

/** A temp data folder and config file for one gateway in front of an OpenAI double at `upstreamUrl`. */
export function gatewayFolder(upstreamUrl: string, extra: Record<string, unknown> = {}): { dir: string; configPath: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-proc-'));
  const configPath = join(dir, 'tollgate.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      providers: { openai: { kind: 'openai-compatible', baseUrl: `${upstreamUrl}/v1`, apiKey: { env: 'PROC_OPENAI_KEY' } } },
      models: { gpt: { maxOutputTokens: 1000, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 60_000 }] } },
      ...extra,
    }),
  );
  return { dir, configPath, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function spawnGateway(opts: { dataDir: string; configPath: string; env?: Record<string, string> }): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('lambda', 'local', 'main.ts')], {
    cwd: REPO,
    env: {
      ...process.env,
      TOLLGATE_CONFIG: opts.configPath,
      TOLLGATE_DATA_DIR: join(opts.dataDir, 'data'),
      PORT: '0',
      TOLLGATE_LOGS: 'off',
      PROC_OPENAI_KEY: UPSTREAM_KEY,
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within 60 s:\n${err}`)), 60_000);
    const onData = () => {
      const m = /Tollgate listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${err}`));
    });
  });
  return { url, child, stderr: () => err, exited };
}

/** The store of a gateway folder: attached to the running process, or opened by the test when none runs. */
export async function storeOf(dataDir: string): Promise<{ store: LocalStore; keys: KeyStore; usage: UsageReader }> {
  const store = await openLocalStore({ dataDir: join(dataDir, 'data') });
  return {
    store,
    keys: new KeyStore({ client: store.client, table: store.tables.keys }),
    usage: new UsageReader({ client: store.client, table: store.tables.ledger }),
  };
}

export async function createKey(dataDir: string, input: Partial<CreateKeyInput>): Promise<{ apiKey: string; keyId: string }> {
  const { store, keys } = await storeOf(dataDir);
  try {
    const { apiKey, key } = await keys.create({ name: 'proc', ...input });
    return { apiKey, keyId: key.keyId };
  } finally {
    await store.close();
  }
}

export async function recordsOf(dataDir: string, keyId: string, day = new Date().toISOString().slice(0, 10)): Promise<UsageRecord[]> {
  const { store, usage } = await storeOf(dataDir);
  try {
    return await usage.requests(day, { keyId });
  } finally {
    await store.close();
  }
}

export function openaiClient(url: string, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: url, maxRetries: 0, timeout: 120_000 });
}

export type StreamResult =
  | { ok: true; requestId: string; done: boolean; chunks: number }
  | { ok: false; status: number | undefined; code: string | null | undefined; requestId?: string; message: string };

/**
 * One streamed completion. `onFirstChunk` fires when the first chunk arrived (the request is admitted and
 * the upstream is generating). `done` is whether the stream ended normally (the SDK saw [DONE]).
 */
export async function streamOnce(client: OpenAI, maxTokens: number, onFirstChunk?: (requestId: string) => void): Promise<StreamResult> {
  let requestId: string | undefined;
  try {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt', max_tokens: maxTokens, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say something.' }] })
      .withResponse();
    requestId = response.headers.get('x-tollgate-request-id') ?? undefined;
    let chunks = 0;
    for await (const _ of data) {
      if (chunks++ === 0) onFirstChunk?.(requestId ?? '');
    }
    return { ok: true, requestId: requestId ?? '', done: true, chunks };
  } catch (err) {
    const e = err as { status?: number; code?: string | null; message?: string; headers?: Headers | Record<string, string> };
    const header = e.headers instanceof Headers ? e.headers.get('x-tollgate-request-id') : e.headers?.['x-tollgate-request-id'];
    return { ok: false, status: e.status, code: e.code, requestId: requestId ?? header ?? undefined, message: e.message ?? String(err) };
  }
}

/**
 * Jest hooks for a file of process tests: one OpenAI double for the file; processes still running and
 * temp folders are killed and removed after each test. Use `fx.upstream` inside tests (set in beforeAll).
 */
export function processFixture(startUpstream: () => Promise<{ close(): Promise<void> }>) {
  const fx = { cleanups: [] as Array<() => void>, running: [] as GatewayProcess[] };
  let upstream: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    for (const p of fx.running.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
    for (const c of fx.cleanups.splice(0)) c();
  });
  afterAll(async () => {
    await upstream?.close();
  });
  return { ...fx, upstream: () => upstream };
}
