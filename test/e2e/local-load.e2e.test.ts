/**
 * The embedded store is not the weak point: 300 and 500 concurrent 1-second streams against the local
 * gateway (a real child process, as `npm start`, with its embedded store) driven by the official `openai`
 * client. Every stream is either served to [DONE] or refused with a clear 429/503 before any upstream
 * call; none gets a 500; every served request has exactly one record, and the budget's spend equals the
 * sum of the records.
 */
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { createKey, gatewayFolder, openaiClient, recordsOf, spawnGateway, storeOf, streamOnce, processFixture } from './support/gateway-process';

jest.setTimeout(240_000);

const fx = processFixture(async () => (upstream = await startOpenAIDouble()));
let upstream: UpstreamDouble;
const { cleanups, running } = fx;

describe.each([300, 500])('%i concurrent local 1-second streams', (n) => {
  it('are all served or refused before the upstream with 429/503, never 500, and records = served', async () => {
    const folder = gatewayFolder(upstream.url);
    cleanups.push(folder.dispose);
    upstream.setDefault({ kind: 'ok', chunkCount: 10, chunkDelayMs: 100, usage: { promptTokens: 12, completionTokens: 40 } });
    const proc = await spawnGateway({ dataDir: folder.dir, configPath: folder.configPath });
    running.push(proc);
    // Two keys: one with a hard budget (reservations on every request), one without.
    const budgeted = await createKey(folder.dir, { name: 'budgeted', budgets: [{ scope: 'key', period: 'day', limitUsd: 100, mode: 'hard' }] });
    const plain = await createKey(folder.dir, { name: 'plain' });

    const before = upstream.requests.length;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => streamOnce(openaiClient(proc.url, (i % 2 ? plain : budgeted).apiKey), 100)),
    );
    const served = results.filter((r) => r.ok && r.done);
    const refused = results.filter((r) => !r.ok);
    const statuses = refused.map((r) => (r.ok ? 0 : r.status));
    expect({ n, statuses: statuses.filter((s) => s !== 429 && s !== 503), notDone: results.filter((r) => r.ok && !r.done).length }).toEqual({ n, statuses: [], notDone: 0 });
    // A refusal happens before any upstream call: the upstream saw exactly the served ones.
    expect(upstream.requests.length - before).toBe(served.length);
    // Most are served on an idle machine; a refusal is the exception, not the rule.
    expect(served.length).toBeGreaterThan(n / 2);

    const records = [...(await recordsOf(folder.dir, budgeted.keyId)), ...(await recordsOf(folder.dir, plain.keyId))];
    const servedIds = served.map((r) => (r.ok ? r.requestId : '')).sort();
    expect(records.map((r) => r.requestId).sort()).toEqual(servedIds);
    expect(records.every((r) => r.status === 'success')).toBe(true);
    const { store, usage } = await storeOf(folder.dir);
    try {
      const budget = await usage.budget('key', budgeted.keyId, new Date().toISOString().slice(0, 10));
      const budgetedSpend = records.filter((r) => r.keyId === budgeted.keyId).reduce((s, r) => s + r.costMicros, 0);
      expect(budget.spentMicros).toBe(budgetedSpend);
    } finally {
      await store.close();
    }
  });
});
