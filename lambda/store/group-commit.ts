/**
 * Group commit for unconditional puts that many concurrent requests make at once (the requests' lease
 * index entries): a put goes out at once when nothing of its kind is in flight, and puts that arrive
 * while writes are in flight wait for one of them to return, then leave together in one BatchWriteItem
 * (up to 25 items). At one request at a time this is exactly today's single PutItem, with no wait added;
 * at 16 or 64 concurrent requests it turns a burst of PutItems into a few batches: one signed HTTP
 * exchange instead of one per request on the gateway, and one request to parse for the store (dynalite,
 * standing in for DynamoDB on the local server, spends most of a small put on the HTTP request itself).
 *
 * Why not a library: the AWS SDK has no request coalescing, and the semantics are the store's own: each
 * caller's promise resolves only once DynamoDB has its item (an item left in UnprocessedItems is retried
 * with backoff, then fails that caller alone), which is what lets the pipeline hold a client's first byte
 * until its request's index entry has landed. Items are unconditional puts of distinct keys; a key already
 * queued waits for the next batch (BatchWriteItem refuses duplicate keys in one request).
 *
 * Crash window: an entry queued behind in-flight writes leaves up to one write's latency later than a lone
 * PutItem would, while its upstream call has already started. A process killed in that window leaves a
 * request with no index entry, as a death while a lone PutItem is in flight always could: its client saw
 * no byte (the first byte waits for the entry), its spend is covered by the process's admission lease,
 * which the sweeper reclaims and charges in full; only its usage record is missing. Never under-charged
 * against a hard cap. In Lambda (one request per container) nothing queues.
 */
import { BatchWriteCommand, PutCommand, type DocumentClient } from './lean-commands';
import { itemId, type Item } from './dynamo';

/** BatchWriteItem's limit. */
const MAX_BATCH = 25;
/** Backoff before each retry of items DynamoDB left unprocessed (throttling); then those items fail. */
const UNPROCESSED_BACKOFF_MS = [10, 40, 160];

const keyOf = (item: Item) => itemId(item as { pk: unknown; sk: unknown });

interface Queued {
  item: Item;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Writes in flight at once; puts arriving meanwhile are queued and batched (default 2). */
  maxInFlight?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class GroupCommitWriter {
  private queue: Queued[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Writes sent (PutItem or BatchWriteItem), items written: for tests and the bench. */
  readonly stats = { writes: 0, items: 0 };

  constructor(
    private readonly doc: DocumentClient,
    private readonly table: string,
    opts: GroupCommitOptions = {},
  ) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Resolves once the item is written; rejects with the store's error (this item only). */
  put(item: Item): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** Up to MAX_BATCH queued items with distinct keys, in arrival order; the rest stay queued. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    const keys = new Set<string>();
    const rest: Queued[] = [];
    for (const q of this.queue) {
      const id = keyOf(q.item);
      if (batch.length < MAX_BATCH && !keys.has(id)) {
        keys.add(id);
        batch.push(q);
      } else {
        rest.push(q);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async write(batch: Queued[]): Promise<void> {
    this.stats.writes++;
    this.stats.items += batch.length;
    try {
      if (batch.length === 1) {
        await this.doc.send(new PutCommand({ TableName: this.table, Item: batch[0].item }));
        batch[0].resolve();
        return;
      }
      let pending = batch;
      for (let attempt = 0; ; attempt++) {
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending.map((q) => ({ PutRequest: { Item: q.item } })) } }));
        const left = new Set((out.UnprocessedItems?.[this.table] ?? []).map((r) => keyOf(r.PutRequest?.Item ?? {})));
        const still: Queued[] = [];
        for (const q of pending) {
          if (left.has(keyOf(q.item))) still.push(q);
          else q.resolve();
        }
        if (still.length === 0) return;
        if (attempt >= UNPROCESSED_BACKOFF_MS.length) {
          const err = new Error(`${still.length} item(s) left unprocessed by BatchWriteItem after ${attempt + 1} attempts`);
          for (const q of still) q.reject(err);
          return;
        }
        pending = still;
        this.stats.writes++;
        await this.sleep(UNPROCESSED_BACKOFF_MS[attempt]);
      }
    } catch (err) {
      // The whole request failed (the SDK retried what it could): every item still waiting fails with it.
      for (const q of batch) q.reject(err);
    }
  }
}
