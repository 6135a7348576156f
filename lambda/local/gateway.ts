/**
 * The local gateway: the composed app on Node's http server, backed by the embedded store (dynalite, data
 * in a folder) and provider keys from environment variables. `npm start`, the e2e tests and the
 * benchmark all start it through here.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { join } from 'node:path';
import type { TollgateConfig } from '../core/config';
import { composeGateway, type GatewayRuntime } from '../app/compose';
import type { RequestObserver } from '../app/observer';
import { envProviderKeys } from '../app/provider-keys';
import { createTelemetry, type Telemetry } from '../app/telemetry';
import type { BudgetAlertSink } from '../core/budgets';
import { createAdapters, type AdapterOptions } from '../providers/registry';
import type { ProviderAdapter } from '../providers/types';
import { dynamoRequestHandler } from '../store/dynamo';
import type { SweepResult } from '../store/lease-sweeper';
import { openLocalStore, type LocalStore } from './embedded-dynamo';
import { FileOutbox } from './file-outbox';
import { startForecastTimer } from './forecast-timer';
import { serveApp, type RunningServer } from './server';

export interface LocalGatewayOptions {
  config: TollgateConfig;
  /** Folder for the embedded store; in memory when undefined. */
  dataDir?: string;
  /** Use this store instead of opening one (tests pass DynamoDB Local here). */
  store?: Pick<LocalStore, 'client' | 'tables'>;
  host?: string;
  port?: number;
  /** Host names the `Host` header may name (server.ts); default: the loopback names when bound to loopback. */
  allowedHosts?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  adapterOptions?: AdapterOptions;
  adapters?: ReadonlyMap<string, ProviderAdapter>;
  /** Structured request logs and EMF metrics on stdout (default on). */
  telemetry?: Telemetry | false;
  observer?: RequestObserver;
  alertSink?: BudgetAlertSink;
  now?: () => number;
  /** Run the sweeper this often (ms); default 60 s. 0 turns the timer off. */
  sweepIntervalMs?: number;
  /** Run the budget forecast (exhaustion alerts) this often (ms); 0 or unset: off (npm start: hourly). */
  forecastIntervalMs?: number;
  /** On close, how long in-flight responses may take to finish (ms); default 30 s. */
  shutdownGraceMs?: number;
  /** How long settlement retries before it goes to the outbox (ms); default 10 s. */
  settleRetryMs?: number;
}

export interface LocalGateway extends RunningServer {
  runtime: GatewayRuntime;
  store: Pick<LocalStore, 'client' | 'tables'>;
  /** The settlement outbox file (only with a data folder). */
  outbox?: FileOutbox;
  /** One sweeper run (plus an outbox replay), as the timer does it. */
  sweep(): Promise<SweepResult>;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** The embedded store is in this process: a connect that takes long is event-loop lag, not a dead server. */
const LOCAL_STORE_CONNECTION_TIMEOUT_MS = 10_000;
const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

export async function startLocalGateway(opts: LocalGatewayOptions): Promise<LocalGateway> {
  const ownStore = opts.store ? undefined : await openLocalStore({ dataDir: opts.dataDir });
  const store = opts.store ?? ownStore!;
  const telemetry = opts.telemetry === false ? undefined : (opts.telemetry ?? createTelemetry({ config: opts.config }));
  // Our own store: the gateway's requests go through a client with the tuned socket pool (the store's
  // client, kept for table set-up, has the SDK's default of 50 sockets).
  const dynamo = ownStore
    ? new DynamoDBClient({
        endpoint: ownStore.endpoint,
        // The store's per-start credentials (its guard refuses any other); never the operator's real ones.
        region: 'local',
        credentials: ownStore.credentials,
        maxAttempts: 3,
        requestHandler: dynamoRequestHandler({ connectionTimeoutMs: LOCAL_STORE_CONNECTION_TIMEOUT_MS }),
      })
    : store.client;
  const outbox = opts.dataDir ? new FileOutbox(join(opts.dataDir, 'outbox.jsonl')) : undefined;
  const runtime = composeGateway({
    config: opts.config,
    dynamo,
    tables: store.tables,
    adapters: opts.adapters ?? createAdapters(opts.config, opts.adapterOptions),
    providerKeys: envProviderKeys(opts.config, opts.env ?? process.env),
    telemetry,
    observer: opts.observer,
    alertSink: opts.alertSink,
    now: opts.now,
    outbox,
    settleRetryMs: opts.settleRetryMs,
    onStoreError: reportStoreError,
  });
  const gate = runtime.gatekeeper;
  const clock = opts.now ?? Date.now;
  const sweep = async (horizonMs = clock()): Promise<SweepResult> => {
    await outbox?.replay((m) => gate.replaySettlement(m));
    return gate.sweepExpiredReservations(horizonMs);
  };
  if (ownStore) {
    // This process owns the data folder (LevelDB locks it), so every lease still open in it belongs to a
    // process that died (kill -9, crash): settle them all now, before serving, not when they expire.
    await sweep(clock() + gate.leaseMs);
  }
  const server = await serveApp(runtime.app, { host: opts.host, port: opts.port, allowedHosts: opts.allowedHosts });
  const intervalMs = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  let sweeping: Promise<unknown> = Promise.resolve();
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          sweeping = sweep().catch((err: unknown) => reportStoreError(err, 'sweep'));
        }, intervalMs)
      : undefined;
  timer?.unref();
  const forecasts = opts.forecastIntervalMs
    ? startForecastTimer({ client: dynamo, tables: store.tables, globalShards: opts.config.metering.globalBudgetShards, intervalMs: opts.forecastIntervalMs, sink: opts.alertSink, now: clock, onError: reportStoreError })
    : undefined;
  let closing: Promise<void> | undefined;
  const shutdown = async () => {
    await server.drain(opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
    if (timer) clearInterval(timer);
    await sweeping;
    await forecasts?.stop();
    // Leases go back before the store closes (otherwise the sweeper reclaims them, charged in full).
    await gate.releaseLeases().catch(() => undefined);
    await gate.derive().catch(() => undefined);
    telemetry?.flush();
    if (dynamo !== store.client) dynamo.destroy();
    await ownStore?.close();
  };
  return {
    ...server,
    runtime,
    // Idle includes the batched lease flush and derivation pass, so callers see every settled request in
    // the budget counters and the rollups.
    async idle() {
      await server.idle();
      await runtime.gatekeeper.flushLeases();
      await runtime.gatekeeper.derive();
    },
    // The client the gateway uses (what tests and the benchmark instrument).
    store: { client: dynamo, tables: store.tables },
    outbox,
    sweep: () => sweep(),
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

/** Store failures that did not fail a request (an outboxed settlement, a failed sweep): one line on stderr. */
function reportStoreError(err: unknown, context: string): void {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  process.stderr.write(`${JSON.stringify({ level: 'WARN', message: 'store error', context, error: message })}\n`);
}
