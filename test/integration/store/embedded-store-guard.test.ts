/**
 * The local server's embedded store is reachable only with this start's credentials: another access key
 * (any local process that found the port), a browser (Origin, preflight) or a query-string signature is
 * refused, no CORS header is ever sent, it listens on 127.0.0.1, and endpoint.json (mode 0600) carries the
 * credentials the admin CLI attaches with.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDynamoClient, openLocalStore, type LocalStore } from '../../../lambda/local/embedded-dynamo';

let dir: string;
let store: LocalStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-guard-'));
  store = await openLocalStore({ dataDir: dir });
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const listTables = (client: DynamoDBClient) => client.send(new ListTablesCommand({})).finally(() => client.destroy());

describe('Embedded store guard', () => {
  it('serves the per-start credentials, and the CLI attaching through endpoint.json', async () => {
    expect((await store.client.send(new ListTablesCommand({}))).TableNames).toEqual(expect.arrayContaining([store.tables.keys, store.tables.ledger]));
    const attached = await openLocalStore({ dataDir: dir });
    try {
      expect(attached.owner).toBe(false);
      expect((await attached.client.send(new ListTablesCommand({}))).TableNames).toContain(store.tables.keys);
    } finally {
      await attached.close();
    }
  });

  it.each([
    ['the dummy credentials', { accessKeyId: 'local', secretAccessKey: 'local' }],
    ['another random access key', { accessKeyId: 'TG00112233445566778899AABBCCDDEEFF', secretAccessKey: 'x' }],
  ])('refuses a request signed with %s', async (_name, credentials) => {
    const err = await listTables(localDynamoClient(store.endpoint, credentials)).catch((e: unknown) => e);
    expect((err as { name?: string }).name).toBe('UnrecognizedClientException');
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
  });

  it('refuses unsigned, query-signed and browser requests, with no CORS header', async () => {
    const target = { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' };
    const unsigned = await fetch(store.endpoint, { method: 'POST', headers: target, body: '{}' });
    expect(unsigned.status).toBe(403);
    const health = await fetch(store.endpoint);
    expect(health.status).toBe(403);
    const query = await fetch(`${store.endpoint}/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${store.credentials.accessKeyId}%2F20260101%2Flocal%2Fdynamodb%2Faws4_request`, { method: 'POST', headers: target, body: '{}' });
    expect(query.status).toBe(403);
    // A web page cannot set Authorization without a preflight, and a preflight is refused.
    const preflight = await fetch(store.endpoint, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,x-amz-target' } });
    expect(preflight.status).toBe(403);
    const withOrigin = await fetch(store.endpoint, { method: 'POST', headers: { ...target, origin: 'http://evil.example', authorization: `AWS4-HMAC-SHA256 Credential=${store.credentials.accessKeyId}/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=00` }, body: '{}' });
    expect(withOrigin.status).toBe(403);
    for (const res of [unsigned, health, query, preflight, withOrigin]) {
      expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('listens on 127.0.0.1 only and keeps its credentials in a 0600 endpoint.json', () => {
    expect(new URL(store.endpoint).hostname).toBe('127.0.0.1');
    const marker = join(dir, 'endpoint.json');
    expect(statSync(marker).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(marker, 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({ endpoint: store.endpoint, accessKeyId: store.credentials.accessKeyId, secretAccessKey: store.credentials.secretAccessKey });
    expect(store.credentials.accessKeyId).toMatch(/^TG[0-9A-F]{32}$/);
  });

  it('gets new credentials on every start', async () => {
    const other = await openLocalStore();
    try {
      expect(other.credentials.accessKeyId).not.toBe(store.credentials.accessKeyId);
      const err = await listTables(localDynamoClient(other.endpoint, store.credentials)).catch((e: unknown) => e);
      expect((err as { name?: string }).name).toBe('UnrecognizedClientException');
      expect(((await other.client.send(new ListTablesCommand({}))).TableNames ?? []).length).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });
});
