/**
 * A lean DynamoDB document client: the store's `doc.send(new PutCommand(...))` calls (Put, Get, Update,
 * Delete, Query, Scan, BatchGet, BatchWrite, TransactWrite, TransactGet) are marshalled with
 * @aws-sdk/util-dynamodb exactly as @aws-sdk/lib-dynamodb does it (the command's own key-node map, the same
 * options) and sent by lean-dynamo-http.ts, without the SDK's per-request middleware chain (endpoint
 * rules, schema serde, retry and signing middleware), which cost ~2 ms of CPU per call in the gateway's
 * profile. Everything else — other commands, send options, callbacks — goes to the real
 * DynamoDBDocumentClient this object is.
 *
 * The SDK path is also taken while someone has attached their own middleware to the client (tests inject
 * faults that way): the lean path would silently skip it. Middleware that knows about the lean path (the
 * request counter) is named with LEAN_AWARE_PREFIX and observes lean calls through observeLeanRequests.
 * Middleware added to one command's own stack (`command.middlewareStack`) is not seen: nothing here does
 * that, and checking every command's stack would cost what the lean path saves.
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
import { marshall, unmarshall, type marshallOptions, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { randomUUID } from 'node:crypto';
import { LeanDynamoTransport } from './lean-dynamo-http';

type Json = Record<string, unknown>;
/** lib-dynamodb's key-node map: null = this value; {} or [] = every member; '*' = every key, one level down. */
type KeyNodes = { readonly [key: string]: KeyNodes } | null;

/** Document command class → DynamoDB operation. */
const OPERATIONS = new Map<unknown, string>([
  [PutCommand, 'PutItem'],
  [GetCommand, 'GetItem'],
  [UpdateCommand, 'UpdateItem'],
  [DeleteCommand, 'DeleteItem'],
  [QueryCommand, 'Query'],
  [ScanCommand, 'Scan'],
  [BatchGetCommand, 'BatchGetItem'],
  [BatchWriteCommand, 'BatchWriteItem'],
  [TransactWriteCommand, 'TransactWriteItems'],
  [TransactGetCommand, 'TransactGetItems'],
]);

/** What lib-dynamodb's commands carry (protected there; read here so the marshalling is theirs, not a copy). */
interface DocumentCommand {
  input: Json;
  inputKeyNodes: { readonly [key: string]: KeyNodes };
  outputKeyNodes: { readonly [key: string]: KeyNodes };
}

// ---- lib-dynamodb's processObj / processKeysInObj / processAllKeysInObj, typed ----

function processObj(obj: unknown, fn: (v: unknown) => unknown, nodes: KeyNodes | undefined): unknown {
  if (obj === undefined) return undefined;
  if (nodes == null) return fn(obj);
  const keys = Object.keys(nodes);
  if (keys.length === 0) return processAll(obj, fn);
  if (keys.length === 1 && keys[0] === '*') {
    const next = nodes['*'];
    if (Array.isArray(obj)) return obj.filter((v) => typeof v !== 'function').map((v: unknown) => processObj(v, fn, next));
    const out: Json = {};
    for (const [k, v] of Object.entries(obj as Json)) if (typeof v !== 'function') out[k] = processObj(v, fn, next);
    return out;
  }
  return processKeys(obj, fn, nodes);
}

function processKeys(obj: unknown, fn: (v: unknown) => unknown, nodes: { readonly [key: string]: KeyNodes }): unknown {
  const src = obj as Json;
  const out: Json | unknown[] = Array.isArray(obj) ? obj.filter((v) => typeof v !== 'function') : {};
  if (!Array.isArray(out)) for (const [k, v] of Object.entries(src)) if (typeof v !== 'function') out[k] = v;
  for (const [k, child] of Object.entries(nodes)) {
    if (typeof src[k] === 'function') continue;
    const processed = processObj(src[k], fn, child);
    if (processed !== undefined && typeof processed !== 'function') (out as Json)[k] = processed;
  }
  return out;
}

function processAll(obj: unknown, fn: (v: unknown) => unknown): unknown {
  if (Array.isArray(obj)) return obj.filter((v) => typeof v !== 'function').map((v: unknown) => processObj(v, fn, null));
  const out: Json = {};
  for (const [k, v] of Object.entries(obj as Json)) {
    if (typeof v === 'function') continue;
    const processed = processObj(v, fn, null);
    if (processed !== undefined && typeof processed !== 'function') out[k] = processed;
  }
  return out;
}

// ---- observers (the request counter) ----

/** Called before each lean request with the command name (`PutItemCommand`) and its input; may return an after-hook. */
export type LeanRequestObserver = (commandName: string, input: Json) => ((output: Json) => void) | void;

const observers = new WeakMap<DynamoDBClient, Set<LeanRequestObserver>>();

export function observeLeanRequests(client: DynamoDBClient, observer: LeanRequestObserver): () => void {
  let set = observers.get(client);
  if (!set) observers.set(client, (set = new Set()));
  set.add(observer);
  return () => set.delete(observer);
}

// ---- custom middleware detection ----

/** Middleware named with this prefix knows about the lean path and does not send requests back to the SDK. */
export const LEAN_AWARE_PREFIX = 'leanAware:';

let sdkDefaults: Map<string, number> | undefined;

function counted(entries: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of entries) if (!e.startsWith(LEAN_AWARE_PREFIX)) m.set(e, (m.get(e) ?? 0) + 1);
  return m;
}

/** Whether the client's middleware stack holds anything beyond a fresh DynamoDBClient's (identify() is slow: ~0.1 ms). */
function hasCustomMiddleware(client: DynamoDBClient): boolean {
  if (!sdkDefaults) {
    const fresh = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    sdkDefaults = counted(fresh.middlewareStack.identify());
    fresh.destroy();
  }
  for (const [entry, n] of counted(client.middlewareStack.identify())) if (n > (sdkDefaults.get(entry) ?? 0)) return true;
  return false;
}

interface StackWatch {
  dirty: boolean;
  custom: boolean;
}

const watches = new WeakMap<DynamoDBClient, StackWatch>();

/** Re-check the stack only after it changed: wrap its mutators once per client. */
function watchStack(client: DynamoDBClient): StackWatch {
  let watch = watches.get(client);
  if (watch) return watch;
  const w: StackWatch = { dirty: true, custom: false };
  const stack = client.middlewareStack as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['add', 'addRelativeTo', 'remove', 'removeByTag', 'use']) {
    const original = stack[method].bind(stack);
    stack[method] = (...args: unknown[]) => {
      w.dirty = true;
      return original(...args);
    };
  }
  watches.set(client, (watch = w));
  return watch;
}

function usesCustomMiddleware(client: DynamoDBClient, watch: StackWatch): boolean {
  if (watch.dirty) {
    watch.custom = hasCustomMiddleware(client);
    watch.dirty = false;
  }
  return watch.custom;
}

// ---- the client ----

const transports = new WeakMap<DynamoDBClient, LeanDynamoTransport>();

/**
 * A DynamoDBDocumentClient (the real one, so types and every other method hold) whose `send` takes the lean
 * path for the document commands above when called as `send(command)`.
 */
export function leanDocumentClient(client: DynamoDBClient, translateConfig: TranslateConfig = {}): DynamoDBDocumentClient {
  const doc = DynamoDBDocumentClient.from(client, translateConfig);
  // lib-dynamodb's own defaults for these two (addMarshallingMiddleware).
  const mOptions: marshallOptions = { ...translateConfig.marshallOptions, convertTopLevelContainer: translateConfig.marshallOptions?.convertTopLevelContainer ?? true };
  const uOptions: unmarshallOptions = { ...translateConfig.unmarshallOptions, convertWithoutMapWrapper: translateConfig.unmarshallOptions?.convertWithoutMapWrapper ?? true };
  const toWire = (v: unknown) => marshall(v, mOptions);
  const fromWire = (v: unknown) => unmarshall(v as Parameters<typeof unmarshall>[0], uOptions);
  const watch = watchStack(client);
  const sdkSend = doc.send.bind(doc) as (...args: unknown[]) => Promise<unknown>;

  const leanSend = async (operation: string, command: DocumentCommand): Promise<Json> => {
    const commandName = `${operation}Command`;
    const after: Array<(output: Json) => void> = [];
    for (const observe of observers.get(client) ?? []) {
      const hook = observe(commandName, command.input);
      if (hook) after.push(hook);
    }
    const input = processKeys(command.input, toWire, command.inputKeyNodes) as Json;
    // The SDK fills this idempotency token itself (a retried transaction must not apply twice).
    if (operation === 'TransactWriteItems' && input.ClientRequestToken === undefined) input.ClientRequestToken = randomUUID();
    let transport = transports.get(client);
    if (!transport) transports.set(client, (transport = new LeanDynamoTransport(client)));
    const output = processKeys(await transport.call(operation, input), fromWire, command.outputKeyNodes) as Json;
    for (const hook of after) hook(output);
    return output;
  };

  doc.send = ((...args: unknown[]) => {
    const command = args[0] as { constructor?: unknown };
    const operation = args.length === 1 ? OPERATIONS.get(command?.constructor) : undefined;
    if (operation && !usesCustomMiddleware(client, watch)) return leanSend(operation, command as unknown as DocumentCommand);
    return sdkSend(...args);
  }) as DynamoDBDocumentClient['send'];
  return doc;
}
