/**
 * The local server's store: dynalite (a DynamoDB-compatible server in pure Node) running in-process,
 * with its data in a folder so keys and usage survive a restart. The gateway talks to it with the same
 * AWS SDK code it uses against DynamoDB in AWS; only the endpoint differs.
 *
 * LevelDB locks its folder, so only one process can open it. The process that opens it writes the
 * endpoint to `<dataDir>/endpoint.json`; another process (the admin CLI while `npm start` runs) finds
 * the live endpoint there and talks to it instead of opening the folder.
 *
 * Locked down, since the store holds the key hashes and the budgets: it listens on 127.0.0.1 only, and
 * dynalite (which checks no signature and answers CORS for any origin) sits behind a guard that refuses
 * every request not signed with this start's random access key id (written, with the endpoint, to
 * `endpoint.json`, mode 0600: only the user who runs the server can read it), every browser request (an
 * `Origin` header or a preflight) and every query-string signature. The key id is 128 random bits; the
 * guard compares it (constant time), it does not recompute the SigV4 signature.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensureTables } from '../store/create-tables';

export interface StoreTables {
  keys: string;
  ledger: string;
}

/** The store's per-start credentials (dynalite checks none; the guard checks the access key id). */
export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface LocalStore {
  endpoint: string;
  credentials: StoreCredentials;
  client: DynamoDBClient;
  tables: StoreTables;
  /** True when this process runs the dynalite server (false: attached to another process's server). */
  owner: boolean;
  close(): Promise<void>;
}

export interface LocalStoreOptions {
  /** Folder for persistent data; in memory when undefined. */
  dataDir?: string;
  /** dynalite port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  tables?: StoreTables;
}

export const LOCAL_TABLES: StoreTables = { keys: 'tollgate-keys', ledger: 'tollgate-ledger' };

/** Dummy credentials for a DynamoDB Local or dynalite endpoint given by hand (never the operator's real ones). */
export const DUMMY_CREDENTIALS: StoreCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A client for a local endpoint with the given credentials (the SDK must not look for real ones). */
export function localDynamoClient(endpoint: string, credentials: StoreCredentials = DUMMY_CREDENTIALS): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'local', credentials, maxAttempts: 3 });
}

/** `Credential=<access key id>/<date>/<region>/<service>/aws4_request` in a SigV4 Authorization header. */
const SIGV4_CREDENTIAL = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\//;

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message });
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** Puts the guard in front of dynalite's own request handler on the same server (no extra hop). */
function guardStore(server: Server, accessKeyId: string): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.origin !== undefined || req.method === 'OPTIONS') {
      req.resume();
      return refuse(res, 403, 'AccessDeniedException', 'The local store does not serve browsers.');
    }
    const given = SIGV4_CREDENTIAL.exec(req.headers.authorization ?? '')?.[1];
    if (given === undefined || !sameSecret(given, accessKeyId)) {
      req.resume();
      return refuse(res, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    for (const handler of handlers) handler.call(server, req, res);
  });
}

/** Open the store: attach to a live server for this folder if there is one, otherwise run our own. */
export async function openLocalStore(opts: LocalStoreOptions = {}): Promise<LocalStore> {
  const tables = opts.tables ?? LOCAL_TABLES;
  if (opts.dataDir) {
    const attached = await attachToRunning(opts.dataDir, tables);
    if (attached) return attached;
    mkdirSync(opts.dataDir, { recursive: true });
  }
  // Loaded lazily: the Lambda bundle never includes dynalite or LevelDB.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as typeof import('dynalite');
  const server: Server = dynalite({ path: opts.dataDir ? join(opts.dataDir, 'db') : undefined, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const credentials: StoreCredentials = { accessKeyId: `TG${randomBytes(16).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
  guardStore(server, credentials.accessKeyId);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = localDynamoClient(endpoint, credentials);
  await ensureTables(client, tables);
  const marker = opts.dataDir ? join(opts.dataDir, 'endpoint.json') : undefined;
  // Only the user who runs the server may read where its store listens and the key it accepts.
  if (marker) {
    rmSync(marker, { force: true }); // a marker left by an earlier run (maybe readable by others) is not reused
    writeFileSync(marker, JSON.stringify({ endpoint, pid: process.pid, ...credentials }) + '\n', { mode: 0o600 });
    chmodSync(marker, 0o600); // a marker left by an earlier run keeps its old mode otherwise
  }
  return {
    endpoint,
    credentials,
    client,
    tables,
    owner: true,
    async close() {
      client.destroy();
      if (marker && existsSync(marker)) rmSync(marker, { force: true });
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function attachToRunning(dataDir: string, tables: StoreTables): Promise<LocalStore | undefined> {
  const marker = join(dataDir, 'endpoint.json');
  if (!existsSync(marker)) return undefined;
  let endpoint: string;
  let credentials: StoreCredentials;
  let pid: number | undefined;
  try {
    const written = JSON.parse(readFileSync(marker, 'utf8')) as { endpoint: string; pid?: number } & Partial<StoreCredentials>;
    if (!written.accessKeyId || !written.secretAccessKey) return undefined; // written before the store was locked down: stale
    endpoint = written.endpoint;
    credentials = { accessKeyId: written.accessKeyId, secretAccessKey: written.secretAccessKey };
    pid = typeof written.pid === 'number' ? written.pid : undefined;
  } catch {
    return undefined;
  }
  // The process that wrote the marker still runs: its store is live, however busy (a server relaying
  // hundreds of streams can take seconds to answer; opening the locked folder ourselves would fail).
  const alive = pid !== undefined && processAlive(pid);
  const client = localDynamoClient(endpoint, credentials);
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(alive ? 60_000 : 1_000) });
  } catch {
    client.destroy();
    return undefined; // stale marker: the process that wrote it is gone
  }
  await ensureTables(client, tables);
  return { endpoint, credentials, client, tables, owner: false, close: async () => client.destroy() };
}

/** Whether a process with this pid exists (signal 0 checks without signalling; EPERM: it exists, not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
