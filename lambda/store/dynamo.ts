/**
 * Small DynamoDB helpers shared by the store: one document client configuration, and the
 * ConditionalCheckFailedException turned into data (the item as it was, when DynamoDB returned it).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { leanSdk, type StoreClient } from './lean-client';
import { BatchGetCommand, GetCommand, QueryCommand, ScanCommand, TransactGetCommand, type DocumentClient } from './lean-commands';
import { leanDocumentClient } from './lean-dynamo';
import { registerLeanSockets, type LeanSockets } from './lean-dynamo-http';

export type Item = Record<string, unknown>;

/** Sockets per DynamoDB client: a busy container runs ~7-13 writes per request concurrently (the SDK default of 50 queued them). */
export const DYNAMO_MAX_SOCKETS = 256;
/** DynamoDB answers a TCP/TLS handshake in a few ms in-region; a stuck connect is retried rather than waited out. */
export const DYNAMO_CONNECTION_TIMEOUT_MS = 1_000;

/**
 * The HTTP handler every gateway DynamoDB client gets (Lambda and local): keep-alive sockets, many of
 * them, and a short connection timeout. The local server's store runs in the same process, on loopback:
 * there a "slow connect" is only the event loop being busy (hundreds of streams), so it waits longer
 * (`connectionTimeoutMs`) rather than failing admissions that would have gone through.
 */
export function dynamoRequestHandler(opts: { connectionTimeoutMs?: number } = {}): NodeHttpHandler {
  const sockets = dynamoSockets(opts);
  const handler = leanSdk().requestHandler(sockets);
  // The lean document client sends over the same pool, with the same connect timeout.
  registerLeanSockets(handler, sockets);
  return handler;
}

/** The sockets of dynamoRequestHandler, for a lean client (lean-client.ts) that has no SDK handler. */
export function dynamoSockets(opts: { connectionTimeoutMs?: number } = {}): LeanSockets {
  const agentOptions = { keepAlive: true, maxSockets: DYNAMO_MAX_SOCKETS };
  return {
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
    connectionTimeoutMs: opts.connectionTimeoutMs ?? DYNAMO_CONNECTION_TIMEOUT_MS,
    ownSockets: { maxSockets: DYNAMO_MAX_SOCKETS },
  };
}

/**
 * The store's document client (over the SDK's DynamoDBClient or a lean one): its item commands take the
 * lean path (lean-dynamo.ts: no SDK middleware per call), the rest the SDK's.
 */
export function documentClient(client: StoreClient): DocumentClient {
  return leanDocumentClient(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** Document commands that only read (by class: names do not survive minification). */
const READ_COMMANDS = [GetCommand, BatchGetCommand, QueryCommand, ScanCommand, TransactGetCommand];

/** Calls made by some background work, and how many of them were reads: for the benchmark. */
export interface CallCount {
  calls: number;
  reads: number;
}

/** The same client, counting every send into `count`: background work counted apart, for the benchmark. */
export function countingClient(doc: DocumentClient, count: CallCount): DocumentClient {
  const counting = Object.create(doc) as DocumentClient;
  counting.send = ((...args: unknown[]) => {
    count.calls++;
    if (READ_COMMANDS.some((c) => args[0] instanceof c)) count.reads++;
    return (doc.send as (...a: unknown[]) => unknown)(...args);
  }) as DocumentClient['send'];
  return counting;
}

/**
 * A conditional write whose failed condition means "already done" (a retry, another process got there
 * first): resolves undefined then; any other error is thrown.
 */
export async function unlessConditionFailed<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return undefined;
    throw err;
  }
}

/** By name: the SDK's exception and the lean client's (lean-errors.ts) both carry it. */
export function isConditionalCheckFailed(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/**
 * The item a failed condition saw, when the request asked for it with ReturnValuesOnConditionCheckFailure
 * (DynamoDB and DynamoDB Local return it; dynalite does not, so callers fall back to a read).
 */
export function conditionFailedItem(err: unknown): Item | undefined {
  const raw = (err as { Item?: Record<string, AttributeValue> } | null)?.Item;
  return raw ? (unmarshall(raw) as Item) : undefined;
}

export function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

/** Run all, then throw the first failure: a partial failure must not hide behind an early rejection. */
export async function settleAll(tasks: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} DynamoDB writes failed`);
}

/**
 * A write failed without a verdict (timeout, socket reset, lost response: anything but a failed
 * condition), so it may have landed. `pending` describes what it would have taken, for a conditional
 * (idempotent) undo; `cause` is the original error, which is what callers rethrow.
 */
export class AmbiguousWriteError<T> extends Error {
  constructor(
    override readonly cause: unknown,
    readonly pending: T,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'AmbiguousWriteError';
  }
}

/** Consistent reads of many items (BatchGet, 100 keys a call, unprocessed keys retried), by `pk\0sk`. */
export async function readItems(doc: DocumentClient, table: string, keys: ReadonlyArray<{ pk: string; sk: string }>): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Array<Record<string, unknown>> = keys.slice(i, i + 100).map((k) => ({ pk: k.pk, sk: k.sk }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
      const out = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
      for (const item of out.Responses?.[table] ?? []) found.set(itemId(item as { pk: string; sk: string }), item);
      pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
      if (attempt >= 8 && pending.length > 0) throw new Error(`BatchGet left ${pending.length} items unread after retries`);
    }
  }
  return found;
}

/** The map key readItems uses for an item key. */
export function itemId(k: { pk: unknown; sk: unknown }): string {
  return `${String(k.pk)}\u0000${String(k.sk)}`;
}
