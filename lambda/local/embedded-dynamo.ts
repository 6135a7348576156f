/**
 * The local server's store: dynalite (a DynamoDB-compatible server in pure Node) running in-process,
 * with its data in a folder so keys and usage survive a restart. The gateway talks to it with the same
 * AWS SDK code it uses against DynamoDB in AWS; only the endpoint differs.
 *
 * LevelDB locks its folder, so only one process can open it. The process that opens it writes the
 * endpoint to `<dataDir>/endpoint.json`; another process (the admin CLI while `npm start` runs) finds
 * the live endpoint there and talks to it instead of opening the folder.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensureTables } from '../store/create-tables';

export interface StoreTables {
  keys: string;
  ledger: string;
}

export interface LocalStore {
  endpoint: string;
  client: DynamoDBClient;
  tables: StoreTables;
  /** True when this process runs the dynalite server (false: attached to another process's server). */
  owner: boolean;
  close(): Promise<void>;
}

export interface LocalStoreOptions {
  /** Folder for persistent data; in memory when undefined. */
  dataDir?: string;
  host?: string;
  /** dynalite port; 0 picks a free one. */
  port?: number;
  tables?: StoreTables;
}

export const LOCAL_TABLES: StoreTables = { keys: 'tollgate-keys', ledger: 'tollgate-ledger' };

/** Fixed dummy credentials: dynalite does not check them, and the SDK must not look for real ones. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
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
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const endpoint = `http://${host}:${(server.address() as AddressInfo).port}`;
  const client = localDynamoClient(endpoint);
  await ensureTables(client, tables);
  const marker = opts.dataDir ? join(opts.dataDir, 'endpoint.json') : undefined;
  // Only the user who runs the server may read where its store listens.
  if (marker) {
    writeFileSync(marker, JSON.stringify({ endpoint, pid: process.pid }) + '\n', { mode: 0o600 });
    chmodSync(marker, 0o600); // a marker left by an earlier run keeps its old mode otherwise
  }
  return {
    endpoint,
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
  try {
    endpoint = (JSON.parse(readFileSync(marker, 'utf8')) as { endpoint: string }).endpoint;
  } catch {
    return undefined;
  }
  const client = localDynamoClient(endpoint);
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1_000) });
  } catch {
    client.destroy();
    return undefined; // stale marker: the process that wrote it is gone
  }
  await ensureTables(client, tables);
  return { endpoint, client, tables, owner: false, close: async () => client.destroy() };
}
