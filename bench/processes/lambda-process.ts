/**
 * Child process: one Lambda container of the gateway, run from a bundle under plain node as Lambda runs
 * it. The handler is gateway-handler.ts's (what gateway.ts exports, with its after-invocation work), built
 * around a counted store client; the runtime's invocation loop (test/support/lambda-runtime-client.ts)
 * takes invocations from a Runtime API on loopback, streams each response back over HTTP and asks for the
 * next one only once the event loop is empty, as Lambda's Node runtime does. This process's CPU is what the
 * container spends: the handler, its store client and the runtime's side of the response stream.
 */
import { readFileSync } from 'node:fs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { periodKey } from '../../lambda/core/budgets';
import { createGatewayHandler } from '../../lambda/handlers/gateway-handler';
import { createLambdaRuntime, type LambdaRuntime } from '../../lambda/handlers/lambda-runtime';
import { LOCAL_TABLES, openLocalStore, type LocalStore } from '../../lambda/local/embedded-dynamo';
import { documentClient } from '../../lambda/store/dynamo';
import { budgetCounterKey } from '../../lambda/store/item-keys';
import { countDynamoRequests, type DynamoRequestCounter } from '../../lambda/store/request-counter';
import { runtimeAwsLambda, startStreamingRuntime, type StreamingRuntime } from '../../test/support/lambda-runtime-client';
import { BENCH_LIMITS, benchConfig } from '../gateway/under-test';
import type { UpstreamUrls } from '../upstream/upstreams';
import { processCpuMicros, serveWorker } from './ipc';
import { profileStart, profileStop } from './self-profile';

export interface LambdaProcessStart {
  storeDataDir: string;
  upstream: UpstreamUrls;
  /** host:port of the Runtime API (AWS_LAMBDA_RUNTIME_API). */
  runtimeApi: string;
}

let store: LocalStore | undefined;
let counter: DynamoRequestCounter | undefined;
let runtime: LambdaRuntime | undefined;
let loop: StreamingRuntime | undefined;
let keyId: string | undefined;
/** Per invocation, in order: the container's CPU from the invocation's arrival to its first response write (µs). */
const firstWriteCpuMicros: number[] = [];
/** The same for the main (JavaScript) thread alone, where Linux tells it (/proc/self/task/<pid>/schedstat). */
const firstWriteMainMicros: number[] = [];

/** ns the main thread has run, from the scheduler's statistics (Linux); undefined elsewhere. */
function mainThreadNs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}
let mainAtArrival: number | undefined;

/** The key's hard budget counter: `reserved` is, between invocations, what this container's lease parks. */
async function budgetCounter(): Promise<{ reservedMicros: number; spentMicros: number } | undefined> {
  if (!store || !keyId) return undefined;
  const out = await documentClient(store.client).send(
    new GetCommand({ TableName: LOCAL_TABLES.ledger, Key: budgetCounterKey('key', keyId, periodKey('month', Date.now())), ConsistentRead: true }),
  );
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return { reservedMicros: n(out.Item?.reserved), spentMicros: n(out.Item?.spent) };
}

serveWorker(
  {
    start: async (payload) => {
      const p = payload as LambdaProcessStart;
      store = await openLocalStore({ dataDir: p.storeDataDir });
      counter = countDynamoRequests(store.client);
      runtime = createLambdaRuntime(
        { TOLLGATE_KEYS_TABLE: LOCAL_TABLES.keys, TOLLGATE_LEDGER_TABLE: LOCAL_TABLES.ledger },
        {
          config: benchConfig(p.upstream),
          dynamo: store.client,
          providerKeys: { get: async () => 'sk-bench-upstream' },
          // LEASES=rate (bench/lambda-calls.ts): leases sized by the recent rate, as a server's, for comparison.
          ...(process.env.LEASES === 'rate' ? { admissionLeases: true } : {}),
        },
      );
      const { apiKey, key } = await runtime.gatekeeper.keys.create({
        name: 'bench',
        team: 'bench',
        rateLimits: { rpm: BENCH_LIMITS.rpm, tpm: BENCH_LIMITS.tpm },
        budgets: [{ scope: 'key', period: 'month', limitUsd: BENCH_LIMITS.budgetUsd, mode: 'hard' }],
      });
      keyId = key.keyId;
      // As in Lambda, nothing but the runtime's own requests may hold the event loop open: the IPC channel
      // still delivers this process's requests while the loop runs, but does not keep it from `beforeExit`.
      process.channel?.unref();
      loop = startStreamingRuntime(p.runtimeApi, createGatewayHandler(runtime, runtimeAwsLambda), {
        onArrival: () => (mainAtArrival = mainThreadNs()),
        onFirstWrite: (us) => {
          firstWriteCpuMicros.push(us);
          const main = mainThreadNs();
          if (main !== undefined && mainAtArrival !== undefined) firstWriteMainMicros.push((main - mainAtArrival) / 1000);
        },
      });
      return { apiKey, node: process.version };
    },
    stats: () => ({
      cpuMicros: processCpuMicros(),
      cpuSplit: process.cpuUsage(),
      maxRssKb: process.resourceUsage().maxRSS,
      dynamo: counter ? { ...counter.counts, byCommand: { ...counter.counts.byCommand } } : undefined,
      completed: loop?.completed ?? 0,
      firstWriteCpuMicros: [...firstWriteCpuMicros],
      firstWriteMainMicros: [...firstWriteMainMicros],
    }),
    /** The key's budget counter, read through the counted client: ask for it outside a measured window. */
    budget: () => budgetCounter(),
    /** SIGTERM's give-back (lambda/handlers/shutdown.ts): how many leases were left to the sweeper. */
    release: async () => runtime?.gatekeeper.releaseLeases(),
    'profile-start': async () => profileStart(),
    'profile-stop': async (dir) => profileStop(dir as string, 'lambda'),
  },
  async () => {
    loop?.stop();
    await store?.close();
  },
);
