/**
 * The local gateway: the composed app on Node's http server, backed by the embedded store (dynalite, data
 * in a folder) and provider keys from environment variables. `npm start`, the e2e tests and the
 * benchmark all start it through here.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TollgateConfig } from '../core/config';
import { composeGateway, type GatewayRuntime } from '../app/compose';
import type { RequestObserver } from '../app/observer';
import { envProviderKeys } from '../app/provider-keys';
import { createTelemetry, type Telemetry } from '../app/telemetry';
import type { BudgetAlertSink } from '../core/budgets';
import { createAdapters, type AdapterOptions } from '../providers/registry';
import type { ProviderAdapter } from '../providers/types';
import { dynamoRequestHandler } from '../store/dynamo';
import { openLocalStore, type LocalStore } from './embedded-dynamo';
import { serveApp, type RunningServer } from './server';

export interface LocalGatewayOptions {
  config: TollgateConfig;
  /** Folder for the embedded store; in memory when undefined. */
  dataDir?: string;
  /** Use this store instead of opening one (tests pass DynamoDB Local here). */
  store?: Pick<LocalStore, 'client' | 'tables'>;
  host?: string;
  port?: number;
  env?: Readonly<Record<string, string | undefined>>;
  adapterOptions?: AdapterOptions;
  adapters?: ReadonlyMap<string, ProviderAdapter>;
  /** Structured request logs and EMF metrics on stdout (default on). */
  telemetry?: Telemetry | false;
  observer?: RequestObserver;
  alertSink?: BudgetAlertSink;
  now?: () => number;
}

export interface LocalGateway extends RunningServer {
  runtime: GatewayRuntime;
  store: Pick<LocalStore, 'client' | 'tables'>;
}

export async function startLocalGateway(opts: LocalGatewayOptions): Promise<LocalGateway> {
  const ownStore = opts.store ? undefined : await openLocalStore({ dataDir: opts.dataDir });
  const store = opts.store ?? ownStore!;
  const telemetry = opts.telemetry === false ? undefined : (opts.telemetry ?? createTelemetry({ config: opts.config }));
  // Our own store: the gateway's requests go through a client with the tuned socket pool (the store's
  // client, kept for table set-up, has the SDK's default of 50 sockets).
  const dynamo = ownStore
    ? new DynamoDBClient({
        endpoint: ownStore.endpoint,
        // As localDynamoClient: dynalite does not check credentials, and the SDK must not look for real ones.
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 3,
        requestHandler: dynamoRequestHandler(),
      })
    : store.client;
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
  });
  const server = await serveApp(runtime.app, { host: opts.host, port: opts.port });
  return {
    ...server,
    runtime,
    // Idle includes the batched lease flush, so callers see every settled request's spend on the counters.
    async idle() {
      await server.idle();
      await runtime.gatekeeper.flushLeases();
    },
    // The client the gateway uses (what tests and the benchmark instrument).
    store: { client: dynamo, tables: store.tables },
    async close() {
      await server.close();
      // Leases go back before the store closes (otherwise the sweeper reclaims them, charged in full).
      await runtime.gatekeeper.releaseLeases().catch(() => undefined);
      telemetry?.flush();
      if (dynamo !== store.client) dynamo.destroy();
      await ownStore?.close();
    },
  };
}
