/**
 * The lean document client (lambda/store/lean-dynamo.ts) against the SDK's DynamoDBDocumentClient: the same
 * operations on two tables with the same starting state, through each, must give identical results and
 * identical errors — on DynamoDB Local and on dynalite (the local server's embedded store).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as sdkCommands from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { conditionFailedItem, documentClient, dynamoSockets, isConditionalCheckFailed, readItems } from '../../../lambda/store/dynamo';
import { LeanDynamoClient, leanSdk } from '../../../lambda/store/lean-client';
import * as leanCommands from '../../../lambda/store/lean-commands';
import type { DocumentClient } from '../../../lambda/store/lean-commands';
import { observeLeanRequests } from '../../../lambda/store/lean-dynamo';
import { countDynamoRequests } from '../../../lambda/store/request-counter';
import { createTestTables, deleteTestTables, ENDPOINT_ENV, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

type Doc = { send: DynamoDBDocumentClient['send'] };
/** The document command classes a scenario builds: lib-dynamodb's, or the lean ones (the same inputs and outputs). */
type Commands = Pick<typeof sdkCommands, 'BatchGetCommand' | 'BatchWriteCommand' | 'DeleteCommand' | 'GetCommand' | 'PutCommand' | 'QueryCommand' | 'ScanCommand' | 'TransactGetCommand' | 'TransactWriteCommand' | 'UpdateCommand'>;
const LEAN_COMMANDS = leanCommands as unknown as Commands;

/** readItems (which builds lean commands) over the SDK's document client: each lean command as lib-dynamodb's. */
function viaSdk(sdk: DynamoDBDocumentClient): DocumentClient {
  const send = (command: leanCommands.DocumentCommand<object, object>) => sdk.send(leanSdk().sdkCommand(command.operation, command.input) as sdkCommands.GetCommand);
  return { send: send as unknown as DocumentClient['send'] };
}
type Outcome = Record<string, unknown>;

/** An output without its request id; an error as the fields our code and the SDK's users read. */
async function outcome(p: Promise<object>): Promise<Outcome> {
  try {
    const { $metadata, ...rest } = (await p) as { $metadata?: { httpStatusCode?: number; attempts?: number } };
    return { ok: rest, status: $metadata?.httpStatusCode, attempts: $metadata?.attempts };
  } catch (err) {
    const e = err as Error & Record<string, unknown> & { $metadata?: { httpStatusCode?: number; attempts?: number } };
    return {
      error: e.name,
      class: e.constructor.name,
      message: e.message,
      fault: e.$fault,
      status: e.$metadata?.httpStatusCode,
      attempts: e.$metadata?.attempts,
      Item: e.Item,
      CancellationReasons: e.CancellationReasons,
      conditionFailed: isConditionalCheckFailed(err),
      conditionFailedItem: conditionFailedItem(err),
    };
  }
}

const bySk = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.sk).localeCompare(String(b.sk));

/** Every shape the store (and lib-dynamodb's marshalling) has to get right. */
const RICH = {
  pk: 'rich',
  sk: 'item',
  big: 2n ** 60n,
  bigNegative: -(2n ** 60n),
  decimal: 0.1,
  money: 123456.789012,
  zero: 0,
  negative: -42,
  bin: new Uint8Array([0, 1, 2, 250, 255]),
  emptyBin: new Uint8Array([]),
  strings: new Set(['a', 'b']),
  numbers: new Set([1, 2.5, 3]),
  binaries: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
  nested: { a: { b: { c: [1, 'two', { three: 3, bin: new Uint8Array([9]) }] } }, list: [true, false, null] },
  empty: '',
  emptyList: [],
  emptyMap: {},
  nothing: null,
  gone: undefined,
  nestedGone: { keep: 1, drop: undefined },
  unicode: 'päivää 日本 🙂 "quoted" \\ back',
  keyB: { B: 'not binary, a map with a key named B' },
};

async function scenario(doc: Doc, table: string, reader: DocumentClient, commands: Commands): Promise<Outcome[]> {
  const { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, TransactGetCommand, TransactWriteCommand, UpdateCommand } = commands;
  const results: Outcome[] = [];
  const run = async (p: Promise<object>) => results.push(await outcome(p));
  await run(doc.send(new PutCommand({ TableName: table, Item: RICH })));
  await run(doc.send(new GetCommand({ TableName: table, Key: { pk: 'rich', sk: 'item' }, ConsistentRead: true })));
  await run(doc.send(new GetCommand({ TableName: table, Key: { pk: 'rich', sk: 'missing' }, ConsistentRead: true })));
  await run(
    doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: 'rich', sk: 'item' },
        UpdateExpression: 'ADD #n :one SET #nested.#a.#x = :x, #s = :s',
        ExpressionAttributeNames: { '#n': 'counter', '#nested': 'nested', '#a': 'a', '#x': 'x', '#s': 'strings' },
        ExpressionAttributeValues: { ':one': 1, ':x': { deep: new Uint8Array([7]), n: 2n ** 55n }, ':s': new Set(['c']) },
        ReturnValues: 'ALL_NEW',
      }),
    ),
  );
  await run(doc.send(new UpdateCommand({ TableName: table, Key: { pk: 'rich', sk: 'item' }, UpdateExpression: 'SET #e = :e', ExpressionAttributeNames: { '#e': 'empty' }, ExpressionAttributeValues: { ':e': 'now set' }, ReturnValues: 'UPDATED_OLD' })));
  // A failed condition, with and without the item it saw.
  await run(doc.send(new PutCommand({ TableName: table, Item: { pk: 'rich', sk: 'item' }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
  await run(doc.send(new UpdateCommand({ TableName: table, Key: { pk: 'rich', sk: 'item' }, UpdateExpression: 'SET #c = :c', ConditionExpression: '#c = :other', ExpressionAttributeNames: { '#c': 'counter' }, ExpressionAttributeValues: { ':c': 5, ':other': 99 } })));
  // A transaction cancelled by one of its conditions.
  await run(
    doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: 'tx', sk: '1', v: 1 } } },
          { ConditionCheck: { TableName: table, Key: { pk: 'rich', sk: 'item' }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
          { Update: { TableName: table, Key: { pk: 'tx', sk: '2' }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': 2 } } },
        ],
      }),
    ),
  );
  await run(
    doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: 'tx', sk: '1', v: 1, bin: new Uint8Array([4]) } } },
          { Update: { TableName: table, Key: { pk: 'tx', sk: '2' }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': 2 } } },
          { Delete: { TableName: table, Key: { pk: 'tx', sk: '3' } } },
        ],
      }),
    ),
  );
  await run(doc.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName: table, Key: { pk: 'tx', sk: '1' } } }, { Get: { TableName: table, Key: { pk: 'tx', sk: '2' } } }] })));
  // 30 items in batches of 25, read back 100 keys at a time (one missing), unprocessed retried.
  const items = Array.from({ length: 30 }, (_, i) => ({ pk: 'batch', sk: `s${String(i).padStart(2, '0')}`, i, tag: i % 2 === 0 ? 'even' : 'odd', skip: undefined }));
  for (let i = 0; i < items.length; i += 25) {
    let pending: Record<string, unknown> = { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) };
    for (let round = 0; round < 10 && Object.keys(pending).length > 0; round++) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: pending as never }));
      pending = out.UnprocessedItems ?? {};
    }
    results.push({ batchWriteLeft: Object.keys(pending).length });
  }
  const got = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: [...items.map((it) => ({ pk: it.pk, sk: it.sk })), { pk: 'batch', sk: 'none' }], ConsistentRead: true } } }));
  results.push({ batchGot: [...(got.Responses?.[table] ?? [])].sort(bySk), unprocessed: got.UnprocessedKeys });
  results.push({ readItems: [...(await readItems(reader, table, items.map((it) => ({ pk: it.pk, sk: it.sk })))).entries()].sort() });
  // Query pages of 7, then a filtered query and a scan.
  const pages: Outcome[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'batch' }, Limit: 7, ExclusiveStartKey: start }));
    pages.push({ items: page.Items, count: page.Count, last: page.LastEvaluatedKey });
    start = page.LastEvaluatedKey;
  } while (start && pages.length < 20);
  results.push({ pages });
  await run(doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)', FilterExpression: 'tag = :t', ExpressionAttributeValues: { ':p': 'batch', ':s': 's1', ':t': 'even' }, ScanIndexForward: false })));
  const scan = await doc.send(new ScanCommand({ TableName: table, FilterExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'tx' }, ConsistentRead: true }));
  results.push({ scan: [...(scan.Items ?? [])].sort(bySk) });
  await run(doc.send(new DeleteCommand({ TableName: table, Key: { pk: 'rich', sk: 'item' }, ReturnValues: 'ALL_OLD' })));
  await run(doc.send(new DeleteCommand({ TableName: table, Key: { pk: 'rich', sk: 'item' }, ConditionExpression: 'attribute_exists(pk)' })));
  // Errors the service returns: a bad expression, a table that does not exist, undefined not removable.
  await run(doc.send(new UpdateCommand({ TableName: table, Key: { pk: 'x', sk: 'y' }, UpdateExpression: 'SET = nonsense' })));
  await run(doc.send(new GetCommand({ TableName: `${table}-missing`, Key: { pk: 'x', sk: 'y' } })));
  await run(doc.send(new PutCommand({ TableName: table, Item: { pk: 'x', sk: 'y', list: [1, undefined] } })));
  return results;
}

describe.each([
  ['DynamoDB Local', () => ({ client: testDynamoClient(), endpoint: String(process.env[ENDPOINT_ENV]), close: async () => undefined })],
  [
    'dynalite',
    async () => {
      const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const endpoint = `http://127.0.0.1:${port}`;
      const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      return { client, endpoint, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    },
  ],
] as const)('lean document client on %s', (_name, open) => {
  let client: DynamoDBClient;
  let endpoint: string;
  let close: () => Promise<void>;
  let sdkTables: TestTables;
  let leanTables: TestTables;
  let leanCommandTables: TestTables;
  let leanClientTables: TestTables;

  beforeAll(async () => {
    ({ client, endpoint, close } = await open());
    [sdkTables, leanTables, leanCommandTables, leanClientTables] = await Promise.all(['lean-sdk', 'lean-lean', 'lean-cmds', 'lean-env'].map((prefix) => createTestTables(client, prefix)));
  });

  afterAll(async () => {
    await Promise.all([sdkTables, leanTables, leanCommandTables, leanClientTables].map((t) => deleteTestTables(client, t)));
    client.destroy();
    await close();
  });

  it('gives the same results and errors as the SDK document client, for every operation the store uses', async () => {
    const sdk = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const lean = documentClient(client);
    const leanCalls: string[] = [];
    const unobserve = observeLeanRequests(client, (command) => void leanCalls.push(command));
    let expected: Outcome[];
    try {
      expected = await scenario(sdk, sdkTables.ledger, viaSdk(sdk), sdkCommands);
      expect(leanCalls).toEqual([]); // the SDK client does not take the lean path
      // lib-dynamodb's commands through the lean client (tests and tools build them), then the store's own.
      expect(await scenario(lean, leanTables.ledger, lean, sdkCommands)).toEqual(expected);
      expect(await scenario(lean, leanCommandTables.ledger, lean, LEAN_COMMANDS)).toEqual(expected);
    } finally {
      unobserve();
    }
    // Everything went the lean way (the scenario's calls, nothing delegated).
    expect(new Set(leanCalls)).toEqual(
      new Set(['PutItemCommand', 'GetItemCommand', 'UpdateItemCommand', 'TransactWriteItemsCommand', 'TransactGetItemsCommand', 'BatchWriteItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'DeleteItemCommand']),
    );
    // The raw shapes match too, not only what unmarshall makes of them.
    const failed = expected.find((o) => o.error === 'ConditionalCheckFailedException' && o.Item !== undefined);
    if (_name === 'DynamoDB Local') expect(failed?.Item).toMatchObject({ bin: { B: new Uint8Array([0, 1, 2, 250, 255]) } });
  });

  it('gives the same results from a lean client given endpoint and credentials, without ever making an SDK client', async () => {
    const sdk = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const leanClient = new LeanDynamoClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, sockets: dynamoSockets() });
    const seen: string[] = [];
    const unobserve = observeLeanRequests(leanClient, (command) => void seen.push(command));
    try {
      const lean = documentClient(leanClient);
      const fresh = await createTestTables(client, 'lean-ref');
      try {
        const reference = await scenario(sdk, fresh.ledger, viaSdk(sdk), sdkCommands);
        expect(await scenario(lean, leanClientTables.ledger, lean, LEAN_COMMANDS)).toEqual(reference);
      } finally {
        await deleteTestTables(client, fresh);
      }
      expect(new Set(seen)).toEqual(
        new Set(['PutItemCommand', 'GetItemCommand', 'UpdateItemCommand', 'TransactWriteItemsCommand', 'TransactGetItemsCommand', 'BatchWriteItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'DeleteItemCommand']),
      );
      // Errors included (failed conditions, a missing table), nothing needed the SDK client.
      expect(leanClient.sdkIfMade()).toBeUndefined();
    } finally {
      unobserve();
      leanClient.destroy();
    }
  });

  it('sends what the lean path does not cover through the SDK client, made on that first need', async () => {
    const leanClient = new LeanDynamoClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, sockets: dynamoSockets() });
    try {
      const lean = documentClient(leanClient);
      await lean.send(new leanCommands.PutCommand({ TableName: leanClientTables.ledger, Item: { pk: 'sdk', sk: '1', n: 1 } }));
      expect(leanClient.sdkIfMade()).toBeUndefined();
      // Send options are the SDK's business: the SDK client is made and sends it.
      const viaOptions = await lean.send(new GetCommand({ TableName: leanClientTables.ledger, Key: { pk: 'sdk', sk: '1' }, ConsistentRead: true }), { abortSignal: AbortSignal.timeout(10_000) });
      expect(viaOptions.Item).toEqual({ pk: 'sdk', sk: '1', n: 1 });
      const sdkClient = leanClient.sdkIfMade();
      expect(sdkClient).toBeDefined();
      // A command the lean path has no mapping for (PartiQL's ExecuteStatement on DynamoDB Local; dynalite lacks it).
      if (_name === 'DynamoDB Local') {
        const partiql = await lean.send(new sdkCommands.ExecuteStatementCommand({ Statement: `SELECT * FROM "${leanClientTables.ledger}" WHERE pk = ? AND sk = ?`, Parameters: ['sdk', '1'], ConsistentRead: true }));
        expect(partiql.Items).toEqual([{ pk: 'sdk', sk: '1', n: 1 }]);
      }
      // Middleware attached to that SDK client is honoured: those calls leave the lean path.
      const seen: string[] = [];
      sdkClient?.middlewareStack.add(
        (next, context) => async (args) => {
          seen.push(context.commandName ?? '?');
          return next(args);
        },
        { step: 'initialize', name: 'leanClientSpy' },
      );
      await lean.send(new leanCommands.GetCommand({ TableName: leanClientTables.ledger, Key: { pk: 'sdk', sk: '1' } }));
      expect(seen).toEqual(['GetItemCommand']);
    } finally {
      leanClient.destroy();
    }
  });

  it('is counted by the request counter like the SDK path, capacity included', async () => {
    const counter = countDynamoRequests(client);
    const lean = documentClient(client);
    try {
      await lean.send(new PutCommand({ TableName: leanTables.ledger, Item: { pk: 'count', sk: '1' } }));
      await lean.send(new GetCommand({ TableName: leanTables.ledger, Key: { pk: 'count', sk: '1' }, ConsistentRead: true }));
      await lean.send(new UpdateCommand({ TableName: leanTables.ledger, Key: { pk: 'count', sk: '1' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
      expect(counter.counts).toMatchObject({ reads: 1, writes: 2, total: 3, byCommand: { PutItemCommand: 1, GetItemCommand: 1, UpdateItemCommand: 1 } });
      expect(counter.counts.writeCapacityUnits).toBeGreaterThan(0);
      expect(counter.counts.readCapacityUnits).toBeGreaterThan(0);
    } finally {
      counter.stop();
    }
  });

  it('yields to the SDK while the client carries middleware of its own (tests inject faults that way)', async () => {
    const lean = documentClient(client);
    const seen: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        seen.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'leanTestSpy' },
    );
    try {
      await lean.send(new GetCommand({ TableName: leanTables.ledger, Key: { pk: 'count', sk: '1' } }));
      expect(seen).toEqual(['GetItemCommand']);
    } finally {
      client.middlewareStack.remove('leanTestSpy');
    }
    const leanCalls: string[] = [];
    const unobserve = observeLeanRequests(client, (command) => void leanCalls.push(command));
    await lean.send(new GetCommand({ TableName: leanTables.ledger, Key: { pk: 'count', sk: '1' } }));
    unobserve();
    expect(seen).toEqual(['GetItemCommand']);
    expect(leanCalls).toEqual(['GetItemCommand']);
  });
});
