/**
 * A lean DynamoDB document client: the store's `doc.send(new PutCommand(...))` calls (Put, Get, Update,
 * Delete, Query, Scan, BatchGet, BatchWrite, TransactWrite, TransactGet; lean-commands.ts) are marshalled
 * as @aws-sdk/lib-dynamodb does it (the same key-node maps, the same options; util-dynamodb's marshall, in
 * one pass for plain values: fast-marshall.ts) and sent by lean-dynamo-http.ts, without the SDK's per-request middleware chain (endpoint
 * rules, schema serde, retry and signing middleware), which cost ~2 ms of CPU per call in the gateway's
 * profile. Everything else — other commands, send options, callbacks — goes to the SDK's
 * DynamoDBDocumentClient, which is made (and the SDK loaded: lean-sdk.ts) only then.
 *
 * The SDK path is also taken while someone has attached their own middleware to the SDK client (tests
 * inject faults that way): the lean path would silently skip it. Middleware that knows about the lean path
 * (the request counter) is named with LEAN_AWARE_PREFIX and observes lean calls through observeLeanRequests.
 * Middleware added to one command's own stack (`command.middlewareStack`) is not seen: nothing here does
 * that, and checking every command's stack would cost what the lean path saves.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, TranslateConfig } from '@aws-sdk/lib-dynamodb';
import { unmarshall, type marshallOptions, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { randomUUID } from 'node:crypto';
import { fastMarshaller } from './fast-marshall';
import { LeanDynamoClient, leanSdk, type StoreClient } from './lean-client';
import { DocumentCommand, type DocumentClient, type KeyNodeMap, type KeyNodes } from './lean-commands';
import { LeanDynamoTransport, sdkConnection } from './lean-dynamo-http';

type Json = Record<string, unknown>;
/** What a document command carries (a lean one, or lib-dynamodb's: protected there, read here so the marshalling is the same). */
interface CommandShape {
  input: Json;
  inputKeyNodes: KeyNodeMap;
  outputKeyNodes: KeyNodeMap;
}

// ---- lib-dynamodb's processObj / processKeysInObj / processAllKeysInObj, typed ----

/** ALL_MEMBERS ([]): every member, as an empty map (Array.isArray does not narrow a readonly tuple). */
function isAllMembers(nodes: KeyNodes): nodes is readonly [] {
  return Array.isArray(nodes);
}

function processObj(obj: unknown, fn: (v: unknown) => unknown, nodes: KeyNodes | undefined): unknown {
  if (obj === undefined) return undefined;
  if (nodes == null) return fn(obj);
  if (isAllMembers(nodes)) return processAll(obj, fn);
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

function processKeys(obj: unknown, fn: (v: unknown) => unknown, nodes: KeyNodeMap): unknown {
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
  const src = obj as Json;
  const out: Json = {};
  // for-in, not Object.entries: no pair array per key (a record has ~40). Own keys only, as entries gives.
  for (const k in src) {
    if (!Object.prototype.hasOwnProperty.call(src, k)) continue;
    const v = src[k];
    if (typeof v === 'function') continue;
    const processed = processObj(v, fn, null);
    if (processed !== undefined && typeof processed !== 'function') out[k] = processed;
  }
  return out;
}

// ---- observers (the request counter) ----

/** Called before each lean request with the command name (`PutItemCommand`) and its input; may return an after-hook. */
export type LeanRequestObserver = (commandName: string, input: Json) => ((output: Json) => void) | void;

const observers = new WeakMap<StoreClient, Set<LeanRequestObserver>>();

export function observeLeanRequests(client: StoreClient, observer: LeanRequestObserver): () => void {
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

/** Whether the client's middleware stack holds anything beyond a fresh DynamoDBClient's. */
function hasCustomMiddleware(client: DynamoDBClient): boolean {
  sdkDefaults ??= counted(leanSdk().defaultMiddleware());
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

/** The SDK client behind a store client, if there is one yet (a lean client makes its own on first need). */
function sdkClientIfAny(client: StoreClient): DynamoDBClient | undefined {
  return client instanceof LeanDynamoClient ? client.sdkIfMade() : client;
}

function sdkClientOf(client: StoreClient): DynamoDBClient {
  return client instanceof LeanDynamoClient ? client.sdk() : client;
}

/** Custom middleware on the SDK client: a lean client's counts only once made (someone wanted its stack). */
function usesCustomMiddleware(client: StoreClient): boolean {
  const sdk = sdkClientIfAny(client);
  if (!sdk) return false;
  const watch = watchStack(sdk);
  if (watch.dirty) {
    watch.custom = hasCustomMiddleware(sdk);
    watch.dirty = false;
  }
  return watch.custom;
}

// ---- the client ----

const transports = new WeakMap<StoreClient, LeanDynamoTransport>();

function transportFor(client: StoreClient): LeanDynamoTransport {
  let transport = transports.get(client);
  if (!transport) transports.set(client, (transport = new LeanDynamoTransport(client instanceof LeanDynamoClient ? client.connection : sdkConnection(client))));
  return transport;
}

/** One of lib-dynamodb's document commands (tests and tools build them): it wraps a client command. */
function isSdkDocumentCommand(command: unknown): boolean {
  return typeof command === 'object' && command !== null && 'clientCommand' in command && 'inputKeyNodes' in command;
}

/**
 * The store's document client over an SDK DynamoDBClient or a LeanDynamoClient. `send(command)` takes the
 * lean path for the lean commands (lean-commands.ts) and for lib-dynamodb's own document commands of the
 * same operations; everything else — other commands, send options, callbacks, and any command while custom
 * middleware is attached — goes to the SDK's DynamoDBDocumentClient, made on first need.
 */
export function leanDocumentClient(client: StoreClient, translateConfig: TranslateConfig = {}): DocumentClient {
  // lib-dynamodb's own defaults for these two (addMarshallingMiddleware).
  const mOptions: marshallOptions = { ...translateConfig.marshallOptions, convertTopLevelContainer: translateConfig.marshallOptions?.convertTopLevelContainer ?? true };
  const uOptions: unmarshallOptions = { ...translateConfig.unmarshallOptions, convertWithoutMapWrapper: translateConfig.unmarshallOptions?.convertWithoutMapWrapper ?? true };
  // util-dynamodb's marshall with these options, in one pass for plain values (fast-marshall.ts).
  // Set when a value went to util-dynamodb's marshall (the only way binary reaches the wire input).
  let fellBack = false;
  const toWire = fastMarshaller(mOptions, () => (fellBack = true));
  const fromWire = (v: unknown) => unmarshall(v as Parameters<typeof unmarshall>[0], uOptions);
  let sdkDoc: DynamoDBDocumentClient | undefined;
  const sdkSend = (...args: unknown[]): Promise<unknown> => {
    sdkDoc ??= leanSdk().sdkDocumentClient(sdkClientOf(client), translateConfig);
    return (sdkDoc.send as (...a: unknown[]) => Promise<unknown>)(...args);
  };

  const leanSend = async (operation: string, command: CommandShape): Promise<Json> => {
    const commandName = `${operation}Command`;
    const after: Array<(output: Json) => void> = [];
    for (const observe of observers.get(client) ?? []) {
      const hook = observe(commandName, command.input);
      if (hook) after.push(hook);
    }
    fellBack = false;
    const input = processKeys(command.input, toWire, command.inputKeyNodes) as Json;
    const mayHoldBinary = fellBack;
    // The SDK fills this idempotency token itself (a retried transaction must not apply twice).
    if (operation === 'TransactWriteItems' && input.ClientRequestToken === undefined) input.ClientRequestToken = randomUUID();
    const output = processKeys(await transportFor(client).call(operation, input, mayHoldBinary), fromWire, command.outputKeyNodes) as Json;
    for (const hook of after) hook(output);
    return output;
  };

  const send = (...args: unknown[]): Promise<unknown> => {
    const command = args[0];
    if (command instanceof DocumentCommand) {
      const lean = command as DocumentCommand<Json, Json>;
      if (args.length === 1 && !usesCustomMiddleware(client)) return leanSend(lean.operation, lean);
      return sdkSend(leanSdk().sdkCommand(lean.operation, lean.input), ...args.slice(1));
    }
    // lib-dynamodb's commands: the SDK is loaded already (the caller built one), so looking up its class is free.
    const operation = args.length === 1 && isSdkDocumentCommand(command) ? leanSdk().operationOf(command) : undefined;
    if (operation && !usesCustomMiddleware(client)) return leanSend(operation, command as CommandShape);
    return sdkSend(...args);
  };
  return { send: send as DocumentClient['send'] };
}
