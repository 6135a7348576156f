/**
 * Counts the DynamoDB requests a client sends (and the capacity they consume), for tests and the
 * benchmark: attach, run a gateway request, read the counts. It asks DynamoDB for ConsumedCapacity on
 * every request it sees, so attach it only where that is wanted. It sees both paths: SDK middleware for
 * the SDK's requests, an observer for the lean document client's (lean-dynamo.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LEAN_AWARE_PREFIX, observeLeanRequests } from './lean-dynamo';

const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'TransactGetItemsCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);

export interface DynamoRequestCounts {
  reads: number;
  writes: number;
  /** Every request, including control-plane calls (create/describe table). */
  total: number;
  byCommand: Record<string, number>;
  readCapacityUnits: number;
  writeCapacityUnits: number;
}

export interface DynamoRequestCounter {
  readonly counts: DynamoRequestCounts;
  reset(): void;
  /** Detach the middleware. */
  stop(): void;
}

interface CapacityEntry {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

let nextId = 0;

export function countDynamoRequests(client: DynamoDBClient): DynamoRequestCounter {
  const name = `${LEAN_AWARE_PREFIX}tollgateRequestCounter${nextId++}`;
  const counts: DynamoRequestCounts = { reads: 0, writes: 0, total: 0, byCommand: {}, readCapacityUnits: 0, writeCapacityUnits: 0 };
  // One request seen (SDK middleware or the lean client's observer): count it, ask for its capacity.
  const observe = (command: string, input: Record<string, unknown>) => {
    const isRead = READS.has(command);
    const isWrite = WRITES.has(command);
    counts.total++;
    counts.byCommand[command] = (counts.byCommand[command] ?? 0) + 1;
    if (isRead) counts.reads++;
    if (isWrite) counts.writes++;
    if ((isRead || isWrite) && input.ReturnConsumedCapacity === undefined) input.ReturnConsumedCapacity = 'TOTAL';
    return (output: Record<string, unknown>) => {
      const consumed = (output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] }).ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        const units = c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0);
        if (isRead) counts.readCapacityUnits += units;
        else counts.writeCapacityUnits += units;
      }
    };
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const after = observe(context.commandName ?? 'unknown', args.input as Record<string, unknown>);
      const result = await next(args);
      after(result.output as unknown as Record<string, unknown>);
      return result;
    },
    { step: 'initialize', name },
  );
  const unobserve = observeLeanRequests(client, observe);
  return {
    counts,
    reset() {
      Object.assign(counts, { reads: 0, writes: 0, total: 0, byCommand: {}, readCapacityUnits: 0, writeCapacityUnits: 0 });
    },
    stop() {
      client.middlewareStack.remove(name);
      unobserve();
    },
  };
}
