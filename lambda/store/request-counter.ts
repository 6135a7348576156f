/**
 * Counts the DynamoDB requests a client sends (and the capacity they consume), for tests and the
 * benchmark: attach, run a gateway request, read the counts. It asks DynamoDB for ConsumedCapacity on
 * every request it sees, so attach it only where that is wanted.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

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
  const name = `tollgateRequestCounter${nextId++}`;
  const counts: DynamoRequestCounts = { reads: 0, writes: 0, total: 0, byCommand: {}, readCapacityUnits: 0, writeCapacityUnits: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const isRead = READS.has(command);
      const isWrite = WRITES.has(command);
      counts.total++;
      counts.byCommand[command] = (counts.byCommand[command] ?? 0) + 1;
      if (isRead) counts.reads++;
      if (isWrite) counts.writes++;
      const input = args.input as Record<string, unknown>;
      if ((isRead || isWrite) && input.ReturnConsumedCapacity === undefined) input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] }).ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        const units = c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0);
        if (isRead) counts.readCapacityUnits += units;
        else counts.writeCapacityUnits += units;
      }
      return result;
    },
    { step: 'initialize', name },
  );
  return {
    counts,
    reset() {
      Object.assign(counts, { reads: 0, writes: 0, total: 0, byCommand: {}, readCapacityUnits: 0, writeCapacityUnits: 0 });
    },
    stop() {
      client.middlewareStack.remove(name);
    },
  };
}
