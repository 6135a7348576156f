/**
 * Group commit of the requests' lease index entries (lambda/store/group-commit.ts) against DynamoDB Local:
 * alone a put is one PutItem sent at once; concurrent puts leave in BatchWriteItems; every caller's promise
 * resolves only once its own item is in the table; unprocessed items are retried, then fail alone.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient, itemId, readItems } from '../../../lambda/store/dynamo';
import { GroupCommitWriter } from '../../../lambda/store/group-commit';
import { GetCommand, type DocumentClient } from '../../../lambda/store/lean-commands';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

let client: DynamoDBClient;
let tables: TestTables;
let doc: DocumentClient;

beforeAll(async () => {
  client = testDynamoClient();
  tables = await createTestTables(client, 'group_commit');
  doc = documentClient(client);
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

const entry = (n: number, tag = 'e') => ({ pk: `lease#${n % 8}`, sk: `${String(n).padStart(15, '0')}#${tag}_${n}`, leaseId: `${tag}_${n}`, payload: 'x'.repeat(50) });

/** Counts the commands a document client sends (by name), passing them on. */
function counting(inner: DocumentClient): { doc: DocumentClient; sent: string[] } {
  const sent: string[] = [];
  const wrapped = Object.create(inner) as DocumentClient;
  wrapped.send = ((command: { constructor: { name: string } }) => {
    sent.push(command.constructor.name);
    return (inner.send as (c: unknown) => Promise<unknown>)(command);
  }) as DocumentClient['send'];
  return { doc: wrapped, sent };
}

describe('Group commit of index entries', () => {
  it('sends a lone put at once as one PutItem', async () => {
    const c = counting(doc);
    const w = new GroupCommitWriter(c.doc, tables.ledger);
    await w.put(entry(1, 'alone'));
    expect(c.sent).toEqual(['PutCommand']);
    const got = await doc.send(new GetCommand({ TableName: tables.ledger, Key: { pk: entry(1, 'alone').pk, sk: entry(1, 'alone').sk }, ConsistentRead: true }));
    expect(got.Item?.leaseId).toBe('alone_1');
  });

  it('batches puts that arrive while writes are in flight, and resolves each caller once its item is in the table', async () => {
    const c = counting(doc);
    const w = new GroupCommitWriter(c.doc, tables.ledger, { maxInFlight: 2 });
    const items = Array.from({ length: 60 }, (_, i) => entry(i, 'burst'));
    await Promise.all(
      items.map(async (item) => {
        await w.put(item);
        // Resolved means written: a consistent read sees it right away.
        const got = await doc.send(new GetCommand({ TableName: tables.ledger, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }));
        expect(got.Item?.leaseId).toBe(item.leaseId);
      }),
    );
    // 2 lone puts go out at once; the 58 queued behind them leave in batches of at most 25.
    expect(c.sent.filter((s) => s === 'PutCommand')).toHaveLength(2);
    expect(c.sent.filter((s) => s === 'BatchWriteCommand')).toHaveLength(3);
    expect(w.stats).toEqual({ writes: 5, items: 60 });
    const stored = await readItems(doc, tables.ledger, items);
    expect(stored.size).toBe(60);
  });

  it('never puts the same key twice in one batch (BatchWriteItem refuses that): the second waits for the next', async () => {
    const c = counting(doc);
    const w = new GroupCommitWriter(c.doc, tables.ledger, { maxInFlight: 1 });
    const first = w.put(entry(100, 'dup'));
    const again = [w.put({ ...entry(100, 'dup'), payload: 'second' }), w.put(entry(101, 'dup')), w.put({ ...entry(100, 'dup'), payload: 'third' })];
    await Promise.all([first, ...again]);
    const got = await doc.send(new GetCommand({ TableName: tables.ledger, Key: { pk: entry(100, 'dup').pk, sk: entry(100, 'dup').sk }, ConsistentRead: true }));
    expect(got.Item?.payload).toBe('third');
    expect(c.sent).toEqual(['PutCommand', 'BatchWriteCommand', 'PutCommand']);
  });

  it('retries items DynamoDB left unprocessed, then fails those items alone', async () => {
    // DynamoDB Local never throttles: a client that drops one item from the first answers, as a throttled
    // BatchWriteItem answers, and otherwise passes everything on.
    let dropsLeft = 1;
    const flaky = Object.create(doc) as DocumentClient;
    flaky.send = (async (command: { constructor: { name: string }; input: { RequestItems?: Record<string, Array<{ PutRequest: { Item: Record<string, unknown> } }>> } }) => {
      const out = (await (doc.send as (c: unknown) => Promise<Record<string, unknown>>)(command)) ?? {};
      if (command.constructor.name !== 'BatchWriteCommand' || dropsLeft <= 0) return out;
      dropsLeft--;
      const reqs = command.input.RequestItems?.[tables.ledger] ?? [];
      return { ...out, UnprocessedItems: { [tables.ledger]: [reqs[reqs.length - 1]] } };
    }) as DocumentClient['send'];
    const sleeps: number[] = [];
    const w = new GroupCommitWriter(flaky, tables.ledger, { maxInFlight: 1, sleep: async (ms) => void sleeps.push(ms) });
    const results = await Promise.allSettled([w.put(entry(200, 'retry')), w.put(entry(201, 'retry')), w.put(entry(202, 'retry')), w.put(entry(203, 'retry'))]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(sleeps).toEqual([10]);

    // Unprocessed every time: after the backoffs, only that item's caller fails.
    dropsLeft = Infinity;
    sleeps.length = 0;
    const settled = await Promise.allSettled([w.put(entry(300, 'stuck')), w.put(entry(301, 'stuck')), w.put(entry(302, 'stuck'))]);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/unprocessed/);
    expect(sleeps).toEqual([10, 40, 160]);
  });

  it('fails every caller of a batch whose request failed, and goes on with the next', async () => {
    let failNext = false;
    const broken = Object.create(doc) as DocumentClient;
    broken.send = (async (command: unknown) => {
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      }
      return (doc.send as (c: unknown) => Promise<unknown>)(command);
    }) as DocumentClient['send'];
    const w = new GroupCommitWriter(broken, tables.ledger, { maxInFlight: 1 });
    const lone = w.put(entry(400, 'fail'));
    failNext = true; // the batch of the three queued behind the lone put
    const queued = [w.put(entry(401, 'fail')), w.put(entry(402, 'fail')), w.put(entry(403, 'fail'))];
    await expect(lone).resolves.toBeUndefined();
    const r = await Promise.allSettled(queued);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await expect(w.put(entry(404, 'fail'))).resolves.toBeUndefined();
    const stored = await readItems(doc, tables.ledger, [400, 401, 404].map((n) => entry(n, 'fail')));
    expect([...stored.keys()].sort()).toEqual([400, 404].map((n) => itemId(entry(n, 'fail'))).sort());
  });
});
