/** The store's public API, for the Lambda composition root, the CLI and reports. */
export { createDynamoGatekeeper, type DynamoGatekeeper, type DynamoGatekeeperOptions } from './dynamo-gatekeeper';
export {
  KeyStore,
  KeyNotFoundError,
  hashApiKey,
  generateApiKey,
  type ApiKeyRecord,
  type CreateKeyInput,
  type UpdateKeyInput,
  type PolicyInput,
  type PolicyRecord,
  type KeyStoreOptions,
} from './key-store';
export { UsageReader, UsageRecorder, type UsageRow, type UsageReaderOptions } from './usage-store';
export { DynamoBudgetLedger, type BudgetTotals } from './budget-ledger';
export { SnsAlertSink, formatBudgetAlert, type SnsAlertSinkOptions } from './sns-alert-sink';
export { countDynamoRequests, type DynamoRequestCounter, type DynamoRequestCounts } from './request-counter';
export { documentClient } from './dynamo';
export type { PolicyScope } from './item-keys';
