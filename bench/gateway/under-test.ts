/**
 * Starts the gateway the benchmark measures. `mode: 'full'` is `npm start`'s composition, what production
 * runs (auth, rate limits, budget reservation, metering, telemetry); `mode: 'open'` is the bare gateway
 * app with no gatekeeper, to separate the gateway's own cost from the store round trips.
 */
import { createGatewayApp } from '../../lambda/app/gateway-app';
import { envProviderKeys } from '../../lambda/app/provider-keys';
import { createTelemetry, type Telemetry } from '../../lambda/app/telemetry';
import { parseConfig, type TollgateConfig } from '../../lambda/core/config';
import { openGatekeeper } from '../../lambda/core/gatekeeper';
import { startLocalGateway } from '../../lambda/local/gateway';
import { serveApp } from '../../lambda/local/server';
import { createAdapters } from '../../lambda/providers/registry';
import { countDynamoRequests, type DynamoRequestCounter } from '../../lambda/store/request-counter';
import type { UpstreamUrls } from '../upstream/upstreams';

export type GatewayMode = 'open' | 'full';

export interface GatewayUnderTestOptions {
  mode: GatewayMode;
  upstream: UpstreamUrls;
  /** Folder of a dynalite store another process serves (multi-process runs); in-process store otherwise. */
  storeDataDir?: string;
  /** Request log and EMF metrics on stdout, as in Lambda (default on; the in-process smoke run turns it off). */
  telemetry?: boolean;
}

export interface DynamoCounts {
  byCommand: Record<string, number>;
  /** Calls made off the request path (batched lease flushes, proactive top-ups, give-backs). */
  background?: number;
  /** Of those, the reads. */
  backgroundReads?: number;
  /** Every write command sent (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems). */
  writes?: number;
  readUnits: number;
  writeUnits: number;
}

export interface GatewayUnderTest {
  /** Chat completions URL. */
  url: string;
  /** Headers every request needs (the gateway key). */
  headers: Record<string, string>;
  /** How the gateway was composed, for the report. */
  composition: string;
  /** Gateway models the bench uses: `latency` plus one `long-<adapter>` per relay adapter. */
  models: { latency: string; long: Record<string, string> };
  dynamoCounts(): DynamoCounts;
  /** Waits for deferred settlements. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** High enough that the bench never throttles or exhausts the budget. */
export const BENCH_LIMITS = { rpm: 10_000_000, tpm: 10_000_000_000, budgetUsd: 1_000_000 } as const;

export function benchConfig(upstream: UpstreamUrls): TollgateConfig {
  return parseConfig({
    providers: {
      bench: { kind: 'openai-compatible', baseUrl: `${upstream.openai}/v1`, apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
      'bench-long': { kind: 'openai-compatible', baseUrl: `${upstream.long['openai-compatible']}/v1`, apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
      'anthropic-long': { kind: 'anthropic', baseUrl: upstream.long.anthropic, apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
      'bedrock-long': { kind: 'bedrock', region: 'us-east-1', endpoint: upstream.long.bedrock },
    },
    models: {
      bench: { targets: [{ provider: 'bench', model: 'bench-model' }], maxOutputTokens: 256 },
      'long-openai-compatible': { targets: [{ provider: 'bench-long', model: 'bench-model' }], maxOutputTokens: 100_000 },
      'long-anthropic': { targets: [{ provider: 'anthropic-long', model: 'claude-bench' }], maxOutputTokens: 100_000 },
      'long-bedrock': { targets: [{ provider: 'bedrock-long', model: 'bench.bedrock-model' }], maxOutputTokens: 100_000 },
    },
    pricing: Object.fromEntries(
      ['bench/bench-model', 'bench-long/bench-model', 'anthropic-long/claude-bench', 'bedrock-long/bench.bedrock-model'].map((m) => [m, { input: 1, output: 2 }]),
    ),
    server: { retryBaseDelayMs: 1 },
  });
}

export async function startGatewayUnderTest(opts: GatewayUnderTestOptions): Promise<GatewayUnderTest> {
  const config = benchConfig(opts.upstream);
  const adapterOptions = { bedrock: { credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } } };
  const env = { BENCH_UPSTREAM_KEY: 'sk-bench-upstream' };
  const models = { latency: 'bench', long: { 'openai-compatible': 'long-openai-compatible', anthropic: 'long-anthropic', bedrock: 'long-bedrock' } };
  if (opts.mode === 'open') {
    const app = createGatewayApp({ config, adapters: createAdapters(config, adapterOptions), providerKeys: envProviderKeys(config, env), gatekeeper: openGatekeeper });
    const server = await serveApp(app);
    return {
      url: `${server.url}/chat/completions`,
      headers: {},
      composition: 'gateway app + real adapters, no gatekeeper and no telemetry (no auth, limits, budgets or metering)',
      models,
      dynamoCounts: () => ({ byCommand: {}, readUnits: 0, writeUnits: 0 }),
      idle: () => server.idle(),
      close: () => server.close(),
    };
  }
  // The real local composition (npm start's): attaches to the store process's dynalite when given its
  // folder, otherwise runs one in this process.
  // TOLLGATE_BENCH_TELEMETRY=0 (bench/profile-path.ts): the full gateway without its log and metrics, to see their share.
  const telemetry = opts.telemetry === false || process.env.TOLLGATE_BENCH_TELEMETRY === '0' ? false : flushingAfterEachRequest(createTelemetry({ config }));
  const gw = await startLocalGateway({ config, dataDir: opts.storeDataDir, env, adapterOptions, telemetry });
  const counter: DynamoRequestCounter = countDynamoRequests(gw.store.client);
  const { apiKey } = await gw.runtime.gatekeeper.keys.create({
    name: 'bench',
    team: 'bench',
    rateLimits: { rpm: BENCH_LIMITS.rpm, tpm: BENCH_LIMITS.tpm },
    budgets: [{ scope: 'key', period: 'month', limitUsd: BENCH_LIMITS.budgetUsd, mode: 'hard' }],
  });
  counter.reset();
  return {
    url: `${gw.url}/chat/completions`,
    headers: { authorization: `Bearer ${apiKey}` },
    composition:
      'startLocalGateway (lambda/local/gateway.ts → composeGateway): DynamoDB gatekeeper on dynalite (key auth, key RPM/TPM limits, ' +
      `hard monthly key budget, usage metering), ${telemetry ? 'telemetry (JSON log + EMF on stdout, flushed per request)' : 'no telemetry'}, real adapters`,
    models,
    dynamoCounts: () => ({ byCommand: { ...counter.counts.byCommand }, background: gw.runtime.gatekeeper.backgroundStoreCalls(), backgroundReads: gw.runtime.gatekeeper.backgroundStoreReads(), writes: counter.counts.writes, readUnits: counter.counts.readCapacityUnits, writeUnits: counter.counts.writeCapacityUnits }),
    idle: () => gw.idle(),
    close: () => gw.close(),
  };
}

/** Publishes metrics at the end of each request, as the Lambda handler's after-invocation hook does. */
function flushingAfterEachRequest(telemetry: Telemetry): Telemetry {
  return {
    ...telemetry,
    observer: {
      ...telemetry.observer,
      requestEnded(event) {
        telemetry.observer.requestEnded?.(event);
        telemetry.flush();
      },
    },
  };
}
