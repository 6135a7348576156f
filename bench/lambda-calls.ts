/**
 * DynamoDB calls per invocation of the gateway's Lambda handler (lambda/handlers/gateway-handler.ts: the
 * handler gateway.ts exports, with its after-invocation work), which the local server's benchmark does not
 * run: a Lambda container flushes its lease spend after every invocation, because it may be frozen (its
 * timers with it) as soon as the invocation returns.
 *
 *   npx tsx bench/lambda-calls.ts [invocations=200]
 *
 * The bench's workload: a key with RPM/TPM limits and a hard monthly budget, streamed chat requests
 * (max_tokens 64) answered by the OpenAI double (32 chunks, no delay), one after another in one container,
 * as a busy container takes them. The store is dynalite in its own process; calls are counted at the
 * client, with the capacity DynamoDB reports. Counts only, no timing. Then the container's shutdown
 * (SIGTERM's give-back, lambda/handlers/shutdown.ts) is counted on its own.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayHandler } from '../lambda/handlers/gateway-handler';
import { createLambdaRuntime } from '../lambda/handlers/lambda-runtime';
import { LOCAL_TABLES } from '../lambda/local/embedded-dynamo';
import { dynamoRequestHandler } from '../lambda/store/dynamo';
import { countDynamoRequests, type DynamoRequestCounts } from '../lambda/store/request-counter';
import { startOpenAIDouble } from '../test/doubles/openai-double';
import { awsLambdaEmulation, captureStream, restProxyEvent, type StreamingHandler } from '../test/support/lambda-streaming-emulator';
import { BENCH_LIMITS, benchConfig } from './gateway/under-test';
import { benchChatBody } from './harness';
import { startWorker } from './processes/ipc';

type Snapshot = Pick<DynamoRequestCounts, 'total' | 'writes' | 'reads' | 'readCapacityUnits' | 'writeCapacityUnits'> & { byCommand: Record<string, number> };

function snapshot(c: DynamoRequestCounts): Snapshot {
  return { total: c.total, writes: c.writes, reads: c.reads, readCapacityUnits: c.readCapacityUnits, writeCapacityUnits: c.writeCapacityUnits, byCommand: { ...c.byCommand } };
}

function delta(a: Snapshot, b: Snapshot, per: number): string[] {
  const commands = [...new Set([...Object.keys(a.byCommand), ...Object.keys(b.byCommand)])].sort();
  const by = commands
    .map((k) => [k, ((b.byCommand[k] ?? 0) - (a.byCommand[k] ?? 0)) / per] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k.replace(/Command$/, '')} ${n.toFixed(2)}`)
    .join(', ');
  const f = (x: number) => (x / per).toFixed(2);
  return [f(b.total - a.total), f(b.writes - a.writes), f(b.writeCapacityUnits - a.writeCapacityUnits), f(b.readCapacityUnits - a.readCapacityUnits), by || '–'];
}

async function main(): Promise<void> {
  const invocations = Number(process.argv[2] ?? 200);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lambda-calls-'));
  const store = await startWorker(join(__dirname, 'processes', 'store-process.ts'));
  const upstream = await startOpenAIDouble({ default: { kind: 'ok', delayMs: 0, chunkCount: 32, chunkDelayMs: 0 } });
  const quiet = process.stdout.write.bind(process.stdout);
  try {
    const endpoint = await store.call<string>('start', dir);
    const { accessKeyId, secretAccessKey } = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3, requestHandler: dynamoRequestHandler() });
    const counter = countDynamoRequests(client);
    const url = upstream.url.replace(/\/+$/, '');
    // The bench's own config (its `bench` model, priced); the long-stream models are not used here.
    const config = benchConfig({ openai: url, long: { 'openai-compatible': url, anthropic: url, bedrock: url } });
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
    // The handler's request log and EMF lines go to stdout: dropped here, the report goes to stdout after.
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const start = snapshot(counter.counts);
    await invoke();
    const afterFirst = snapshot(counter.counts);
    for (let i = 1; i < invocations; i++) await invoke();
    const afterAll = snapshot(counter.counts);
    const leftToSweeper = await runtime.gatekeeper.releaseLeases();
    const afterShutdown = snapshot(counter.counts);
    process.stdout.write = quiet;

    const rows = [
      ['first invocation (cold container: key and policy reads, leases opened)', ...delta(start, afterFirst, 1)],
      [`invocations 2-${invocations}, per invocation`, ...delta(afterFirst, afterAll, invocations - 1)],
      [`shutdown (SIGTERM's give-back), once per container${leftToSweeper ? `: ${leftToSweeper} left to the sweeper` : ''}`, ...delta(afterAll, afterShutdown, 1)],
    ];
    console.log(`# DynamoDB calls per Lambda invocation (${new Date().toISOString()}, ${invocations} streamed invocations in one container)\n`);
    console.log('| | calls | writes | WCU | RCU | by command |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    process.stdout.write = quiet;
    await upstream.close();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
