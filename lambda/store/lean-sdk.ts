/**
 * The AWS SDK side of the lean DynamoDB client, `require`d only on first need (lean-client.ts leanSdk()):
 * the SDK client for a LeanDynamoClient (commands the lean path does not cover, middleware someone
 * attached, the retry strategy at the first retryable error), the SDK document client the lean one falls
 * back to, and lib-dynamodb's command classes. In the gateway bundle its SDK packages are lazy chunks
 * (lib/lazy-chunks.ts); nothing on the init path requires this module (test/e2e/lambda-bundle-init.e2e.test.ts
 * checks that neither init nor a first store request runs them).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TranslateConfig,
} from '@aws-sdk/lib-dynamodb';
import type { NodeHttpHandler, NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import { registerLeanSockets, type LeanSockets } from './lean-dynamo-http';
import type { SigningCredentials } from './lean-sigv4';

/** lib-dynamodb's command classes by DynamoDB operation (the lean commands' `operation`). */
const COMMANDS = {
  PutItem: PutCommand,
  GetItem: GetCommand,
  UpdateItem: UpdateCommand,
  DeleteItem: DeleteCommand,
  Query: QueryCommand,
  Scan: ScanCommand,
  BatchGetItem: BatchGetCommand,
  BatchWriteItem: BatchWriteCommand,
  TransactWriteItems: TransactWriteCommand,
  TransactGetItems: TransactGetCommand,
} as const;

const OPERATIONS = new Map<unknown, string>(Object.entries(COMMANDS).map(([op, cls]) => [cls, op]));

/** The DynamoDB operation of one of lib-dynamodb's document commands; undefined for anything else. */
export function operationOf(command: unknown): string | undefined {
  return OPERATIONS.get((command as { constructor?: unknown } | null)?.constructor);
}

/** The lib-dynamodb command for a lean command's operation and input. */
export function sdkCommand(operation: string, input: object): object {
  const Command = COMMANDS[operation as keyof typeof COMMANDS] as unknown as new (input: object) => object;
  if (!Command) throw new Error(`lean DynamoDB client: no SDK command for ${operation}`);
  return new Command(input);
}

export function sdkDocumentClient(client: DynamoDBClient, translateConfig: TranslateConfig): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, translateConfig);
}

/**
 * The SDK's HTTP handler settings for given sockets, as options: the client builds its handler from its own
 * @smithy/node-http-handler (in the gateway bundle, this module's SDK is a chunk of its own: lib/lazy-chunks.ts).
 */
function handlerOptions(sockets: LeanSockets): NodeHttpHandlerOptions {
  return { httpAgent: sockets.httpAgent, httpsAgent: sockets.httpsAgent, connectionTimeout: sockets.connectionTimeoutMs };
}

/** The SDK client a LeanDynamoClient stands for: same region, endpoint, credentials and sockets. */
export function sdkClient(settings: { region: string; endpoint?: string; credentials?: SigningCredentials; sockets: LeanSockets; clockOffset: number }): DynamoDBClient {
  return new DynamoDBClient({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: settings.credentials,
    systemClockOffset: settings.clockOffset,
    requestHandler: handlerOptions(settings.sockets),
  });
}

/** The SDK client with the SDK's own configuration chain, over given sockets (which the lean path shares). */
export function configuredClient(sockets: LeanSockets): DynamoDBClient {
  const client = new DynamoDBClient({ requestHandler: handlerOptions(sockets) });
  registerLeanSockets(client.config.requestHandler, sockets);
  return client;
}

let defaults: string[] | undefined;

/** The middleware a fresh DynamoDBClient carries (identify() is slow: ~0.1 ms, so once). */
export function defaultMiddleware(): string[] {
  if (!defaults) {
    const fresh = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    defaults = fresh.middlewareStack.identify();
    fresh.destroy();
  }
  return defaults;
}

/** The SDK's HTTP handler over given sockets (dynamoRequestHandler: the SDK path and the lean one share them). */
export function requestHandler(sockets: LeanSockets): NodeHttpHandler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NodeHttpHandler: Handler } = require('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler');
  return new Handler(handlerOptions(sockets));
}
