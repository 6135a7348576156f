/**
 * DynamoDB calls per invocation of the gateway's Lambda handler (lambda/handlers/gateway-handler.ts: the
 * handler gateway.ts exports, with its after-invocation work), which the local server's benchmark does not
 * run: a Lambda container flushes its lease spend after every invocation, because it may be frozen (its
 * timers with it) as soon as the invocation returns.
 *
 *   npx tsx bench/lambda-calls.ts [invocations=200]
 *
 * The bench's workload: a key with RPM/TPM limits and a hard monthly budget, streamed chat requests
 * (max_tokens 64) answered by the bench's upstream double in its own process (20 ms to the first byte, 32
 * chunks), one after another in one container, as a busy container takes them. The store is dynalite in
 * its own process; calls are counted at the client, with the capacity DynamoDB reports. Also the CPU of
 * this process per warm invocation (no timing). Then the container's shutdown (SIGTERM's give-back,
 * lambda/handlers/shutdown.ts) is counted on its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayHandler } from '../lambda/handlers/gateway-handler';
import { createLambdaRuntime } from '../lambda/handlers/lambda-runtime';
import { LOCAL_TABLES, openLocalStore, type LocalStore } from '../lambda/local/embedded-dynamo';
import { countDynamoRequests, type DynamoRequestCounts } from '../lambda/store/request-counter';
import { awsLambdaEmulation, captureStream, restProxyEvent, type StreamingHandler } from '../test/support/lambda-streaming-emulator';
import { BENCH_LIMITS, benchConfig } from './gateway/under-test';
import { benchChatBody } from './harness';
import { startWorker } from './processes/ipc';
import type { UpstreamUrls } from './upstream/upstreams';

type Snapshot = Pick<DynamoRequestCounts, 'total' | 'writes' | 'readCapacityUnits' | 'writeCapacityUnits'> & { byCommand: Record<string, number> };

/** Store calls per invocation (or per shutdown), as DynamoDB counts them. */
export interface LambdaCalls {
  calls: number;
  writes: number;
  writeUnits: number;
  readUnits: number;
  byCommand: Record<string, number>;
}

export interface LambdaCallsSection {
  invocations: number;
  /** A cold container's first invocation: key and policy reads, leases opened. */
  first: LambdaCalls;
  /** Every later invocation, averaged: what a busy container spends per request. */
  steady: LambdaCalls;
  /** The give-back on SIGTERM, once per container (lambda/handlers/shutdown.ts). */
  shutdown: LambdaCalls & { leftToSweeper: number };
  /**
   * CPU of the handler's process per warm invocation (the later half): the handler run from its sources
   * under tsx, with the response-stream emulation; the store and the upstream double in their own processes.
   */
  cpuMsPerInvocation?: number;
}

function snapshot(c: DynamoRequestCounts): Snapshot {
  return { total: c.total, writes: c.writes, readCapacityUnits: c.readCapacityUnits, writeCapacityUnits: c.writeCapacityUnits, byCommand: { ...c.byCommand } };
}

function delta(a: Snapshot, b: Snapshot, per: number): LambdaCalls {
  const round = (x: number) => Math.round((x / per) * 100) / 100;
  const byCommand: Record<string, number> = {};
  for (const k of [...new Set([...Object.keys(a.byCommand), ...Object.keys(b.byCommand)])].sort()) {
    const n = round((b.byCommand[k] ?? 0) - (a.byCommand[k] ?? 0));
    if (n > 0) byCommand[k.replace(/Command$/, '')] = n;
  }
  return { calls: round(b.total - a.total), writes: round(b.writes - a.writes), writeUnits: round(b.writeCapacityUnits - a.writeCapacityUnits), readUnits: round(b.readCapacityUnits - a.readCapacityUnits), byCommand };
}

export async function measureLambdaCalls(opts: { invocations: number }): Promise<LambdaCallsSection> {
  const { invocations } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lambda-calls-'));
  const store = await startWorker(join(__dirname, 'processes', 'store-process.ts'));
  // The bench's upstream double in its own process (its CPU is not the handler's): 20 ms to the first byte, 32 chunks.
  const upstream = await startWorker(join(__dirname, 'processes', 'upstream-process.ts'));
  const write = process.stdout.write.bind(process.stdout);
  let attached: LocalStore | undefined;
  try {
    await store.call<string>('start', dir);
    // Attached through the folder's endpoint file, with the client the bench's local gateway uses (lambda/local/embedded-dynamo.ts).
    attached = await openLocalStore({ dataDir: dir });
    const client = attached.client;
    const counter = countDynamoRequests(client);
    const urls = await upstream.call<UpstreamUrls>('start', { firstByteDelayMs: 20, chunks: 32, longChunks: 1 });
    // The bench's own config (its `bench` model, priced); the long-stream models are not used here.
    const config = benchConfig(urls);
    const runtime = createLambdaRuntime(
      { TOLLGATE_KEYS_TABLE: LOCAL_TABLES.keys, TOLLGATE_LEDGER_TABLE: LOCAL_TABLES.ledger },
      { config, dynamo: client, providerKeys: { get: async () => 'sk-bench-upstream' } },
    );
    const { apiKey } = await runtime.gatekeeper.keys.create({
      name: 'bench',
      team: 'bench',
      rateLimits: { rpm: BENCH_LIMITS.rpm, tpm: BENCH_LIMITS.tpm },
      budgets: [{ scope: 'key', period: 'month', limitUsd: BENCH_LIMITS.budgetUsd, mode: 'hard' }],
    });
    const handler = createGatewayHandler(runtime, awsLambdaEmulation) as StreamingHandler;
    const invoke = async () => {
      const cap = captureStream();
      const event = restProxyEvent({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: benchChatBody('bench', true) });
      await handler(event, cap.stream, { getRemainingTimeInMillis: () => 300_000 } as Parameters<StreamingHandler>[2]);
      const { prelude, body } = cap.result();
      if ((prelude as { statusCode: number }).statusCode !== 200 || !body.includes('[DONE]')) throw new Error(`invocation failed: ${JSON.stringify(prelude)} ${body.slice(0, 300)}`);
    };
    // The handler's request log and EMF lines go to stdout: dropped while it runs.
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const start = snapshot(counter.counts);
    await invoke();
    const afterFirst = snapshot(counter.counts);
    // CPU of this process (the handler, its store client, the response-stream emulation) per invocation,
    // once warm: the later half of the invocations.
    const warm = Math.max(1, Math.floor(invocations / 2));
    let cpuFrom: NodeJS.CpuUsage | undefined;
    for (let i = 1; i < invocations; i++) {
      if (i === warm) cpuFrom = process.cpuUsage();
      await invoke();
    }
    const cpu = cpuFrom ? process.cpuUsage(cpuFrom) : undefined;
    const afterAll = snapshot(counter.counts);
    const leftToSweeper = await runtime.gatekeeper.releaseLeases();
    const afterShutdown = snapshot(counter.counts);
    const cpuMsPerInvocation = cpu ? Math.round(((cpu.user + cpu.system) / 1000 / (invocations - warm)) * 1000) / 1000 : undefined;
    return { invocations, first: delta(start, afterFirst, 1), steady: delta(afterFirst, afterAll, invocations - 1), shutdown: { ...delta(afterAll, afterShutdown, 1), leftToSweeper }, cpuMsPerInvocation };
  } finally {
    process.stdout.write = write;
    await attached?.close();
    await upstream.stop();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function lambdaCallsMarkdown(l: LambdaCallsSection): string {
  const by = (c: LambdaCalls) => Object.entries(c.byCommand).map(([k, n]) => `${k} ${n.toFixed(2)}`).join(', ') || '–';
  const row = (label: string, c: LambdaCalls) => `| ${label} | ${c.calls.toFixed(2)} | ${c.writes.toFixed(2)} | ${c.writeUnits.toFixed(2)} | ${c.readUnits.toFixed(2)} | ${by(c)} |`;
  return [
    '| | calls | writes | WCU | RCU | by command |',
    '|---|---|---|---|---|---|',
    row('first invocation of a cold container (key and policy reads, leases opened)', l.first),
    row(`invocations 2-${l.invocations}, per invocation`, l.steady),
    row(`shutdown: SIGTERM's give-back, once per container${l.shutdown.leftToSweeper ? ` (${l.shutdown.leftToSweeper} left to the sweeper)` : ''}`, l.shutdown),
    ...(l.cpuMsPerInvocation === undefined
      ? []
      : ['', `CPU per warm invocation, the handler's process (sources under tsx, the response-stream emulation included): ${l.cpuMsPerInvocation.toFixed(2)} ms.`]),
  ].join('\n');
}

async function main(): Promise<void> {
  const invocations = Number(process.argv[2] ?? 200);
  const section = await measureLambdaCalls({ invocations });
  console.log(`# DynamoDB calls per Lambda invocation (${new Date().toISOString()}, ${invocations} streamed invocations in one container)\n`);
  console.log(lambdaCallsMarkdown(section));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
