/**
 * The two DynamoDB tables' key schema: one definition read by the store, the tests (which create the
 * tables in DynamoDB Local) and the CDK data construct, so they cannot drift.
 */
export const KEYS_TABLE_SCHEMA = {
  partitionKey: 'pk',
} as const;

export const LEDGER_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL removes request records and rate-limit windows after it. */
  ttlAttribute: 'ttl',
} as const;

/** Global secondary indexes, if the store needs any (name → key attributes, all string). */
export const LEDGER_GSIS: ReadonlyArray<{ name: string; partitionKey: string; sortKey?: string }> = [];
export const KEYS_GSIS: ReadonlyArray<{ name: string; partitionKey: string; sortKey?: string }> = [];
