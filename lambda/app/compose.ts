/**
 * The composition root shared by the Lambda handler and the local server: the same gateway app, the same
 * DynamoDB gatekeeper, the same telemetry; only the edge differs (where the DynamoDB endpoint, provider
 * keys and alert sink come from). Tests and the benchmark compose through here too.
 */
import type { StoreClient } from '../store/lean-client';
import type { BudgetAlertSink } from '../core/budgets';
import type { TollgateConfig } from '../core/config';
import type { ProviderAdapter } from '../providers/types';
import { createDynamoGatekeeper, type DynamoGatekeeper, type DynamoGatekeeperOptions } from '../store/dynamo-gatekeeper';
import type { SettlementOutbox } from '../store/settlement';
import { createGatewayApp, type GatewayApp } from './gateway-app';
import type { RequestObserver } from './observer';
import type { ProviderKeySource } from './provider-keys';
import type { Telemetry } from './telemetry';

export interface GatewayRuntimeOptions {
  config: TollgateConfig;
  dynamo: StoreClient;
  tables: { keys: string; ledger: string };
  adapters: ReadonlyMap<string, ProviderAdapter>;
  providerKeys: ProviderKeySource;
  alertSink?: BudgetAlertSink;
  telemetry?: Telemetry;
  /** Extra observer (tests), called after telemetry. */
  observer?: RequestObserver;
  now?: () => number;
  onStoreError?: (err: unknown, context: string) => void;
  /** Admission from per-process leases (default on; false: one reservation round per request). */
  admissionLeases?: DynamoGatekeeperOptions['admissionLeases'];
  /** Where settlements go when the store cannot take them in time (local file, SQS). */
  outbox?: SettlementOutbox;
  settleRetryMs?: number;
  /** Rollups derived in a batched pass this long after a settlement (default 5 s); 0: at every settlement. */
  deriveIntervalMs?: number;
}

export interface GatewayRuntime {
  app: GatewayApp;
  gatekeeper: DynamoGatekeeper;
  telemetry?: Telemetry;
}

export function composeGateway(opts: GatewayRuntimeOptions): GatewayRuntime {
  const telemetry = opts.telemetry;
  const gatekeeper = createDynamoGatekeeper({
    client: opts.dynamo,
    tables: opts.tables,
    config: opts.config,
    now: opts.now,
    alertSink: opts.alertSink,
    onError: opts.onStoreError,
    admissionLeases: opts.admissionLeases ?? true,
    outbox: opts.outbox,
    settleRetryMs: opts.settleRetryMs,
    // Lean settlement: the request path writes the record and no more; rollups follow in batches.
    deriveAfterSettle: opts.deriveIntervalMs === 0,
    deriveIntervalMs: opts.deriveIntervalMs,
    // Watched budgets (config.observability.watchedBudgets, `scope:id:period`) get a utilisation metric
    // from each settlement's own update; telemetry ignores the others.
    onBudgetSettled: telemetry
      ? (e) => {
          if (e.limitMicros > 0) telemetry.budgetUtilization(e.budget, (e.spentMicros / e.limitMicros) * 100);
        }
      : undefined,
  });
  const app = createGatewayApp({
    config: opts.config,
    adapters: opts.adapters,
    providerKeys: opts.providerKeys,
    gatekeeper,
    observer: combineObservers([opts.telemetry?.observer, opts.observer]),
    now: opts.now,
  });
  return { app, gatekeeper, telemetry: opts.telemetry };
}

function combineObservers(list: ReadonlyArray<RequestObserver | undefined>): RequestObserver | undefined {
  const observers = list.filter((o): o is RequestObserver => o !== undefined);
  if (observers.length <= 1) return observers[0];
  return {
    requestEnded: (e) => observers.forEach((o) => o.requestEnded?.(e)),
    rejected: (e) => observers.forEach((o) => o.rejected?.(e)),
    attemptFailed: (id, p, err) => observers.forEach((o) => o.attemptFailed?.(id, p, err)),
    internalError: (id, err) => observers.forEach((o) => o.internalError?.(id, err)),
  };
}
