/**
 * The bench's multi-process topology with the gateway run as Lambda runs it: its esbuild bundle under
 * plain node (bench/processes/bundle-worker.ts). The gateway must serve through the store process, count
 * its CPU without a forced collection, write a CPU profile whose frames point at the TypeScript sources
 * (through the bundle's source map), and leave no bundle behind when it stops.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchChatBody } from '../../bench/harness';
import { makeTarget, timedPost } from '../../bench/http-client';
import { startTopology, type Topology } from '../../bench/topology';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { openLocalStore } from '../../lambda/local/embedded-dynamo';

describe('bench processes topology, gateway from its bundle', () => {
  let topo: Topology | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-processes-'));

  afterAll(async () => {
    await topo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves, counts CPU, profiles by source file, and cleans up its bundle', async () => {
    const bundleDir = join(__dirname, '..', '..', 'node_modules', '.cache', 'tollgate-bench');
    const before = new Set(existsSync(bundleDir) ? readdirSync(bundleDir) : []);
    // Two gateways, as the bench runs them: each from its own bundle (one stopping must not take the other's).
    topo = await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: 1, chunks: 4, longChunks: 4 }, modes: ['open', 'full'] });
    const gw = topo.gateways.full!;
    const built = readdirSync(bundleDir).filter((f) => !before.has(f));
    expect(built.filter((f) => /^gateway-process-\d+-\d+\.cjs$/.test(f))).toHaveLength(2);

    const target = makeTarget(gw.url, gw.headers);
    const cpu0 = await gw.cpuMicros!();
    await gw.profileStart!();
    for (let i = 0; i < 60; i++) {
      const t = await timedPost(target, benchChatBody(gw.models.latency, true), true);
      expect(t.status).toBe(200);
    }
    await gw.profileStop!(dir);
    expect(await gw.cpuMicros!()).toBeGreaterThan(cpu0);
    await gw.idle();
    const counts = (await gw.stats()).dynamo;
    expect(counts?.writes).toBeGreaterThanOrEqual(120); // each request's lease index entry and record

    const [file] = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Array<{ callFrame: { url: string } }> };
    const urls = profile.nodes.map((n) => n.callFrame.url);
    // Sampled frames: which functions were caught varies, but Tollgate's sources and its packages' always are.
    expect(urls.filter((u) => /\/lambda\/.+\.ts$/.test(u)).length).toBeGreaterThan(20);
    expect(urls.some((u) => /\/node_modules\/.+\.[cm]?js$/.test(u) && !u.includes('.cache'))).toBe(true);
    // Left on the bundle: only frames at positions the map does not cover (esbuild's module wrappers).
    const unmapped = urls.filter((u) => u.endsWith('.cjs'));
    expect(unmapped.length).toBeLessThan(urls.length * 0.05);

    await topo.close();
    topo = undefined;
    for (const f of built) expect(existsSync(join(bundleDir, f))).toBe(false);
  }, 120_000);
});

/**
 * The bench's floor with the store (bench/processes/floor-process.ts): a number the report reads
 * against the gateway only means something if the floor really does the two writes, answers in the
 * upstream's wire format, and meters the usage it relays.
 */
describe('bench floor relay with the store writes', () => {
  let topo: Topology | undefined;

  afterAll(async () => {
    await topo?.close();
  });

  it('relays streamed and whole answers and writes one index entry and one record per request', async () => {
    topo = await startTopology({ kind: 'processes', upstream: { firstByteDelayMs: 1, chunks: 4, longChunks: 4 }, modes: ['open'] });
    const floor = await topo.startStoreFloor!();
    const target = makeTarget(floor.url);
    const cpu0 = await floor.cpuMicros();
    const streamed = await postText(floor.url, benchChatBody('bench-model', true));
    expect(streamed.status).toBe(200);
    const events = streamed.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')) as { object: string; usage?: { completion_tokens: number } });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const outputTokens = chunks.find((c) => c.usage)?.usage?.completion_tokens;
    expect(outputTokens).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) expect((await timedPost(target, benchChatBody('bench-model', true), true)).status).toBe(200);
    const whole = await postText(floor.url, benchChatBody('bench-model', false));
    expect(whole.status).toBe(200);
    expect((JSON.parse(whole.text) as { object: string }).object).toBe('chat.completion');
    expect(await floor.cpuMicros()).toBeGreaterThan(cpu0);

    // The record is written after the last byte: wait for all six to land, in the store itself.
    const store = await openLocalStore({ dataDir: topo.storeDataDir! });
    try {
      const scan = async () => (await store.client.send(new ScanCommand({ TableName: store.tables.ledger }))).Items ?? [];
      let items = await scan();
      for (let i = 0; i < 50 && items.filter((it) => it.kind?.S === 'request').length < 6; i++) {
        await new Promise((r) => setTimeout(r, 20));
        items = await scan();
      }
      const records = items.filter((it) => it.kind?.S === 'request');
      const index = items.filter((it) => it.pk?.S?.startsWith('lease#'));
      expect(records).toHaveLength(6);
      expect(index).toHaveLength(6);
      expect(new Set(records.map((r) => r.requestId?.S))).toEqual(new Set(index.map((e) => e.leaseId?.S)));
      expect(records.map((r) => Number(r.outputTokens?.N))).toContain(outputTokens);

      // `writes: 'record'` (bench/gc-survival.ts): a floor that makes only the record write makes no index entry.
      const recordOnly = await topo.startStoreFloor!({ writes: 'record' });
      for (let i = 0; i < 2; i++) expect((await timedPost(makeTarget(recordOnly.url), benchChatBody('bench-model', true), true)).status).toBe(200);
      for (let i = 0; i < 50 && items.filter((it) => it.kind?.S === 'request').length < 8; i++) {
        await new Promise((r) => setTimeout(r, 20));
        items = await scan();
      }
      expect(items.filter((it) => it.kind?.S === 'request')).toHaveLength(8);
      expect(items.filter((it) => it.pk?.S?.startsWith('lease#'))).toHaveLength(6);
    } finally {
      if (store.owner) await store.close();
      else store.client.destroy();
    }
  }, 120_000);
});

async function postText(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}
