/**
 * The document commands the store sends (`doc.send(new PutCommand(...))`), without the AWS SDK: each is its
 * input, the DynamoDB operation it names, and the key-node maps that say which of its members are items to
 * marshall — the same maps @aws-sdk/lib-dynamodb's commands carry (test/unit/store/lean-commands.test.ts
 * compares them). lib-dynamodb's own command classes cannot be used on the gateway's init path: each one
 * builds a @aws-sdk/client-dynamodb command in its constructor, so importing them loads the whole SDK
 * client (~20-40 ms of a cold start). Input and output types are lib-dynamodb's (types only).
 *
 * lean-dynamo.ts sends these; the SDK's own document commands are still accepted by its `send` (tests and
 * tools use them), and anything the lean path does not cover goes to the SDK, loaded on first need.
 */
import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  BatchWriteCommandInput,
  BatchWriteCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  DynamoDBDocumentClient,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
  TransactGetCommandInput,
  TransactGetCommandOutput,
  TransactWriteCommandInput,
  TransactWriteCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';

/** lib-dynamodb's key-node map: null = this value; {} or [] = every member; '*' = every key, one level down. */
export type KeyNodes = { readonly [key: string]: KeyNodes } | readonly [] | null;
export type KeyNodeMap = { readonly [key: string]: KeyNodes };

const SELF = null;
const ALL_VALUES = {};
const ALL_MEMBERS = [] as const;
const EXPECTED = { '*': { Value: SELF, AttributeValueList: ALL_MEMBERS } };
const WRITE_METRICS = { Attributes: ALL_VALUES, ItemCollectionMetrics: { ItemCollectionKey: ALL_VALUES } };
const MULTI_METRICS = { ItemCollectionMetrics: { '*': { '*': { ItemCollectionKey: ALL_VALUES } } } };
const FILTER = { '*': { AttributeValueList: ALL_MEMBERS } };
const WRITE_REQUESTS = { '*': { '*': { PutRequest: { Item: ALL_VALUES }, DeleteRequest: { Key: ALL_VALUES } } } };

/**
 * One document command: what the lean client marshals and sends. `O` is the output type `send` resolves.
 * The operation and key maps live on each command class's prototype (command()), not on every instance.
 */
export abstract class DocumentCommand<I extends object, O extends object> {
  /** The DynamoDB operation (`PutItem`). */
  declare readonly operation: string;
  declare readonly inputKeyNodes: KeyNodeMap;
  declare readonly outputKeyNodes: KeyNodeMap;
  /** Never set: carries the output type for `send`. */
  declare readonly outputType?: O;

  constructor(readonly input: I) {}
}

/** Puts a command class's operation and key maps on its prototype (shared by all its instances). */
function command(cls: abstract new (...args: never[]) => DocumentCommand<object, object>, operation: string, inputKeyNodes: KeyNodeMap, outputKeyNodes: KeyNodeMap): void {
  Object.defineProperties(cls.prototype, { operation: { value: operation }, inputKeyNodes: { value: inputKeyNodes }, outputKeyNodes: { value: outputKeyNodes } });
}

export class PutCommand extends DocumentCommand<PutCommandInput, PutCommandOutput> {}
command(PutCommand, 'PutItem', { Item: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES }, WRITE_METRICS);

export class GetCommand extends DocumentCommand<GetCommandInput, GetCommandOutput> {}
command(GetCommand, 'GetItem', { Key: ALL_VALUES }, { Item: ALL_VALUES });

export class UpdateCommand extends DocumentCommand<UpdateCommandInput, UpdateCommandOutput> {}
command(UpdateCommand, 'UpdateItem', { Key: ALL_VALUES, AttributeUpdates: { '*': { Value: SELF } }, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES }, WRITE_METRICS);

export class DeleteCommand extends DocumentCommand<DeleteCommandInput, DeleteCommandOutput> {}
command(DeleteCommand, 'DeleteItem', { Key: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES }, WRITE_METRICS);

export class QueryCommand extends DocumentCommand<QueryCommandInput, QueryCommandOutput> {}
command(QueryCommand, 'Query', { KeyConditions: FILTER, QueryFilter: FILTER, ExclusiveStartKey: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES }, { Items: { '*': ALL_VALUES }, LastEvaluatedKey: ALL_VALUES });

export class ScanCommand extends DocumentCommand<ScanCommandInput, ScanCommandOutput> {}
command(ScanCommand, 'Scan', { ScanFilter: FILTER, ExclusiveStartKey: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES }, { Items: { '*': ALL_VALUES }, LastEvaluatedKey: ALL_VALUES });

export class BatchGetCommand extends DocumentCommand<BatchGetCommandInput, BatchGetCommandOutput> {}
command(BatchGetCommand, 'BatchGetItem', { RequestItems: { '*': { Keys: { '*': ALL_VALUES } } } }, { Responses: { '*': { '*': ALL_VALUES } }, UnprocessedKeys: { '*': { Keys: { '*': ALL_VALUES } } } });

export class BatchWriteCommand extends DocumentCommand<BatchWriteCommandInput, BatchWriteCommandOutput> {}
command(BatchWriteCommand, 'BatchWriteItem', { RequestItems: WRITE_REQUESTS }, { UnprocessedItems: WRITE_REQUESTS, ...MULTI_METRICS });

export class TransactWriteCommand extends DocumentCommand<TransactWriteCommandInput, TransactWriteCommandOutput> {}
command(
  TransactWriteCommand,
  'TransactWriteItems',
  {
    TransactItems: {
      '*': {
        ConditionCheck: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Put: { Item: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Delete: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Update: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
      },
    },
  },
  MULTI_METRICS,
);

export class TransactGetCommand extends DocumentCommand<TransactGetCommandInput, TransactGetCommandOutput> {}
command(TransactGetCommand, 'TransactGetItems', { TransactItems: { '*': { Get: { Key: ALL_VALUES } } } }, { Responses: { '*': { Item: ALL_VALUES } } });

/** Sends a lean document command. */
export type LeanSend = <I extends object, O extends object>(command: DocumentCommand<I, O>) => Promise<O>;

/**
 * The store's document client: lean commands, and (as overloads) everything the SDK's
 * DynamoDBDocumentClient accepts, which goes to it.
 */
export interface DocumentClient {
  send: LeanSend & DynamoDBDocumentClient['send'];
}
