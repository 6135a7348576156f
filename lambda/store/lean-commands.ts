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

/** One document command: what the lean client marshals and sends. `O` is the output type `send` resolves. */
export abstract class DocumentCommand<I extends object, O extends object> {
  /** The DynamoDB operation (`PutItem`). */
  abstract readonly operation: string;
  abstract readonly inputKeyNodes: KeyNodeMap;
  abstract readonly outputKeyNodes: KeyNodeMap;
  /** Never set: carries the output type for `send`. */
  declare readonly outputType?: O;

  constructor(readonly input: I) {}
}

export class PutCommand extends DocumentCommand<PutCommandInput, PutCommandOutput> {
  readonly operation = 'PutItem';
  readonly inputKeyNodes = { Item: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES };
  readonly outputKeyNodes = WRITE_METRICS;
}

export class GetCommand extends DocumentCommand<GetCommandInput, GetCommandOutput> {
  readonly operation = 'GetItem';
  readonly inputKeyNodes = { Key: ALL_VALUES };
  readonly outputKeyNodes = { Item: ALL_VALUES };
}

export class UpdateCommand extends DocumentCommand<UpdateCommandInput, UpdateCommandOutput> {
  readonly operation = 'UpdateItem';
  readonly inputKeyNodes = { Key: ALL_VALUES, AttributeUpdates: { '*': { Value: SELF } }, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES };
  readonly outputKeyNodes = WRITE_METRICS;
}

export class DeleteCommand extends DocumentCommand<DeleteCommandInput, DeleteCommandOutput> {
  readonly operation = 'DeleteItem';
  readonly inputKeyNodes = { Key: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES };
  readonly outputKeyNodes = WRITE_METRICS;
}

export class QueryCommand extends DocumentCommand<QueryCommandInput, QueryCommandOutput> {
  readonly operation = 'Query';
  readonly inputKeyNodes = { KeyConditions: FILTER, QueryFilter: FILTER, ExclusiveStartKey: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES };
  readonly outputKeyNodes = { Items: { '*': ALL_VALUES }, LastEvaluatedKey: ALL_VALUES };
}

export class ScanCommand extends DocumentCommand<ScanCommandInput, ScanCommandOutput> {
  readonly operation = 'Scan';
  readonly inputKeyNodes = { ScanFilter: FILTER, ExclusiveStartKey: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES };
  readonly outputKeyNodes = { Items: { '*': ALL_VALUES }, LastEvaluatedKey: ALL_VALUES };
}

export class BatchGetCommand extends DocumentCommand<BatchGetCommandInput, BatchGetCommandOutput> {
  readonly operation = 'BatchGetItem';
  readonly inputKeyNodes = { RequestItems: { '*': { Keys: { '*': ALL_VALUES } } } };
  readonly outputKeyNodes = { Responses: { '*': { '*': ALL_VALUES } }, UnprocessedKeys: { '*': { Keys: { '*': ALL_VALUES } } } };
}

export class BatchWriteCommand extends DocumentCommand<BatchWriteCommandInput, BatchWriteCommandOutput> {
  readonly operation = 'BatchWriteItem';
  readonly inputKeyNodes = { RequestItems: WRITE_REQUESTS };
  readonly outputKeyNodes = { UnprocessedItems: WRITE_REQUESTS, ...MULTI_METRICS };
}

export class TransactWriteCommand extends DocumentCommand<TransactWriteCommandInput, TransactWriteCommandOutput> {
  readonly operation = 'TransactWriteItems';
  readonly inputKeyNodes = {
    TransactItems: {
      '*': {
        ConditionCheck: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Put: { Item: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Delete: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
        Update: { Key: ALL_VALUES, ExpressionAttributeValues: ALL_VALUES },
      },
    },
  };
  readonly outputKeyNodes = MULTI_METRICS;
}

export class TransactGetCommand extends DocumentCommand<TransactGetCommandInput, TransactGetCommandOutput> {
  readonly operation = 'TransactGetItems';
  readonly inputKeyNodes = { TransactItems: { '*': { Get: { Key: ALL_VALUES } } } };
  readonly outputKeyNodes = { Responses: { '*': { Item: ALL_VALUES } } };
}

/** Sends a lean document command. */
export type LeanSend = <I extends object, O extends object>(command: DocumentCommand<I, O>) => Promise<O>;

/**
 * The store's document client: lean commands, and (as overloads) everything the SDK's
 * DynamoDBDocumentClient accepts, which goes to it.
 */
export interface DocumentClient {
  send: LeanSend & DynamoDBDocumentClient['send'];
}
