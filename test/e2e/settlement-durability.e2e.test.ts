/**
 * Usage survives the process: the local gateway runs as a real child process (`main.ts`, as `npm start`)
 * on a temp data folder, in front of the OpenAI double, driven by the official `openai` client.
 * - `kill -9` with streams in flight, then restart: within the sweep interval every admitted request has
 *   a record (`lost`, charged at its reserved worst case) and the recorded spend covers what the upstream
 *   billed for them.
 * - SIGTERM with streams in flight: they all finish with [DONE], are recorded, and the process exits.
 */
import { costMicros, priceFor } from '../../lambda/core/pricing';
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { createKey, gatewayFolder, openaiClient, recordsOf, spawnGateway, storeOf, streamOnce, processFixture, type StreamResult } from './support/gateway-process';

jest.setTimeout(120_000);

const fx = processFixture(async () => (upstream = await startOpenAIDouble()));
let upstream: UpstreamDouble;
const { cleanups, running } = fx;

/** 12 prompt + 40 completion tokens of gpt-4o-mini, as the double reports (and bills) every request. */
const USAGE = { promptTokens: 12, completionTokens: 40 };
const BILLED_PER_REQUEST = costMicros(
  { inputTokens: USAGE.promptTokens, outputTokens: USAGE.completionTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  priceFor({ providers: {}, pricing: {} }, 'openai', 'gpt-4o-mini')!,
);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('kill -9 with streams in flight', () => {
  it('after a restart, every admitted request has a record and the recorded spend covers what the upstream billed', async () => {
    const folder = gatewayFolder(upstream.url);
    cleanups.push(folder.dispose);
    // Long streams (40 chunks, 100 ms apart): they are all mid-generation when the process dies.
    upstream.setDefault({ kind: 'ok', chunkCount: 40, chunkDelayMs: 100, usage: USAGE });
    const env = { TOLLGATE_SWEEP_INTERVAL_SECONDS: '1' };
    const first = await spawnGateway({ dataDir: folder.dir, configPath: folder.configPath, env });
    running.push(first);
    const budgeted = await createKey(folder.dir, { name: 'budgeted', budgets: [{ scope: 'key', period: 'day', limitUsd: 10, mode: 'hard' }] });
    const plain = await createKey(folder.dir, { name: 'plain' });

    const before = upstream.requests.length;
    const started = new Set<string>();
    const streams: Array<Promise<StreamResult>> = [];
    for (let i = 0; i < 12; i++) {
      const key = i % 3 === 0 ? plain : budgeted;
      streams.push(streamOnce(openaiClient(first.url, key.apiKey), 100, (id) => started.add(id)));
    }
    await waitFor('every stream to be generating', async () => (started.size === 12 ? true : undefined), 30_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const results = await Promise.all(streams);
    expect(results.every((r) => !r.ok || !r.done)).toBe(true);
    // What the upstream billed: every request it received was generating when the gateway died.
    const billedRequests = upstream.requests.length - before;
    expect(billedRequests).toBe(12);
    const admittedIds = [...started];

    const second = await spawnGateway({ dataDir: folder.dir, configPath: folder.configPath, env });
    running.push(second);
    // Within the sweep interval (1 s here; a few seconds of slack for a busy CI machine).
    const records = await waitFor(
      'a record for every admitted request',
      async () => {
        const all = [...(await recordsOf(folder.dir, budgeted.keyId)), ...(await recordsOf(folder.dir, plain.keyId))];
        return all.length >= 12 ? all : undefined;
      },
      15_000,
    );
    expect(records).toHaveLength(12);
    expect(new Set(records.map((r) => r.requestId))).toEqual(new Set(admittedIds));
    for (const r of records) {
      expect(r.status).toBe('lost');
      expect(r.stream).toBe(true);
      expect(r.costMicros).toBeGreaterThanOrEqual(BILLED_PER_REQUEST);
    }
    const recordedMicros = records.reduce((s, r) => s + r.costMicros, 0);
    expect(recordedMicros).toBeGreaterThanOrEqual(billedRequests * BILLED_PER_REQUEST);

    // The hard budget was charged, not released: spend covers what was billed, nothing stays reserved.
    const { store, usage } = await storeOf(folder.dir);
    try {
      const day = new Date().toISOString().slice(0, 10);
      // The sweep writes the lost records and reclaims the dead process's lease side by side (two writes
      // that land independently): the lease's charge may follow the records by a moment on a busy machine.
      const budget = await waitFor(
        "the dead process's admission lease to be reclaimed",
        async () => {
          const b = await usage.budget('key', budgeted.keyId, day);
          return b.reservedMicros === 0 && b.spentMicros > 0 ? b : undefined;
        },
        15_000,
      );
      const budgetedRecords = records.filter((r) => r.keyId === budgeted.keyId);
      expect(budgetedRecords).toHaveLength(8);
      const lostMicros = budgetedRecords.reduce((s, r) => s + r.costMicros, 0);
      // The dead process's admission lease is charged in full: at least every lost request's worst case.
      expect(budget.spentMicros).toBeGreaterThanOrEqual(lostMicros);
      expect(budget.spentMicros).toBeGreaterThanOrEqual(8 * BILLED_PER_REQUEST);
      expect(budget.reservedMicros).toBe(0);
      // The rollups are derived from the records: the lost charges show up in the key's usage.
      const rows = await usage.usageBy('key', day);
      const row = rows.find((x) => x.value === budgeted.keyId);
      expect(row?.costMicros).toBe(lostMicros);
      expect(row?.requests).toBe(8);
    } finally {
      await store.close();
    }
  });
});

describe('SIGTERM with streams in flight', () => {
  it('lets all 20 in-flight 2-second streams finish with [DONE], records them all, then exits', async () => {
    const folder = gatewayFolder(upstream.url);
    cleanups.push(folder.dispose);
    upstream.setDefault({ kind: 'ok', chunkCount: 20, chunkDelayMs: 100, usage: USAGE });
    const proc = await spawnGateway({ dataDir: folder.dir, configPath: folder.configPath });
    running.push(proc);
    const key = await createKey(folder.dir, { name: 'drained', budgets: [{ scope: 'key', period: 'day', limitUsd: 10, mode: 'hard' }] });

    const started = new Set<string>();
    const streams = Array.from({ length: 20 }, () => streamOnce(openaiClient(proc.url, key.apiKey), 100, (id) => started.add(id)));
    await waitFor('every stream to be generating', async () => (started.size === 20 ? true : undefined), 30_000);
    proc.child.kill('SIGTERM');
    const results = await Promise.all(streams);
    for (const r of results) expect(r).toMatchObject({ ok: true, done: true });
    expect(await proc.exited).toBe(0);

    const records = await recordsOf(folder.dir, key.keyId);
    expect(records).toHaveLength(20);
    expect(records.every((r) => r.status === 'success' && r.costMicros === BILLED_PER_REQUEST)).toBe(true);
    const { store, usage } = await storeOf(folder.dir);
    try {
      const budget = await usage.budget('key', key.keyId, new Date().toISOString().slice(0, 10));
      expect(budget.spentMicros).toBe(20 * BILLED_PER_REQUEST);
      expect(budget.reservedMicros).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('refuses new connections once draining, and exits at the grace period even if a stream is still running', async () => {
    const folder = gatewayFolder(upstream.url);
    cleanups.push(folder.dispose);
    upstream.setDefault({ kind: 'ok', chunkCount: 300, chunkDelayMs: 100, usage: USAGE });
    const proc = await spawnGateway({ dataDir: folder.dir, configPath: folder.configPath, env: { TOLLGATE_SHUTDOWN_GRACE_SECONDS: '1' } });
    running.push(proc);
    const key = await createKey(folder.dir, { name: 'cut' });
    let started = '';
    const stream = streamOnce(openaiClient(proc.url, key.apiKey), 1000, (id) => (started = id));
    await waitFor('the stream to be generating', async () => (started ? true : undefined), 30_000);
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const late = await waitFor('the listener to close', async () => {
      const r = await streamOnce(openaiClient(proc.url, key.apiKey), 10);
      return r.ok ? undefined : r;
    }, 5_000);
    expect(late.ok).toBe(false);
    expect((await stream).ok && (await stream as { done: boolean }).done).toBe(false);
    // It exits cleanly (after the grace period cut the stream, settled it and closed the store).
    const code = await proc.exited;
    expect({ code, stderr: code === 0 ? '' : proc.stderr() }).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The cut stream is still recorded (client_abort, charged for what was generated).
    const records = await recordsOf(folder.dir, key.keyId);
    expect(records.map((r) => r.requestId)).toContain(started);
  });
});
