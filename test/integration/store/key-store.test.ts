import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { hashApiKey, KeyNotFoundError, KeyStore } from '../../../lambda/store/key-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

let client: DynamoDBClient;
let tables: TestTables;
let store: KeyStore;

beforeAll(async () => {
  client = testDynamoClient();
  tables = await createTestTables(client, 'keystore');
  store = new KeyStore({ client, table: tables.keys, now: () => 1_764_000_000_000 });
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

describe('Method: create', () => {
  it('returns a tg_ key once and stores only its SHA-256', async () => {
    const { apiKey, key } = await store.create({ name: 'search prod', team: 'search', environment: 'prod' });
    expect(apiKey).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    expect(key.keyId).toMatch(/^key_[0-9a-f]{16}$/);
    expect(key.prefix).toBe(apiKey.slice(0, 8));

    const scan = await client.send(new ScanCommand({ TableName: tables.keys }));
    const dump = JSON.stringify(scan.Items);
    expect(dump).not.toContain(apiKey);
    expect(dump).not.toContain(apiKey.slice(3)); // not even without the tg_ prefix
    expect(dump).toContain(`key#${hashApiKey(apiKey)}`);
  });

  it('rejects a budget with an unknown scope', async () => {
    await expect(store.create({ name: 'x', budgets: [{ scope: 'planet' as 'key', period: 'day', limitUsd: 1, mode: 'hard' }] })).rejects.toThrow();
  });

  it('rejects a team id containing #', async () => {
    await expect(store.create({ name: 'x', team: 'a#b' })).rejects.toThrow(/ids are/);
  });
});

describe('Method: findBySecret', () => {
  it('finds a key by its secret and not by a near miss', async () => {
    const { apiKey, key } = await store.create({ name: 'lookup' });
    expect((await store.findBySecret(apiKey))?.keyId).toBe(key.keyId);
    expect(await store.findBySecret(apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
  });
});

describe('Method: get / list', () => {
  it('gets a key by id and lists it', async () => {
    const { key } = await store.create({ name: 'listed', team: 'ads' });
    expect(await store.get(key.keyId)).toEqual(key);
    const ads = await store.list({ team: 'ads' });
    expect(ads.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(await store.get('key_doesnotexist')).toBeUndefined();
  });
});

describe('Method: revoke', () => {
  it('marks the key revoked and hides it from active listings', async () => {
    const { apiKey, key } = await store.create({ name: 'to revoke', team: 'revokers' });
    const revoked = await store.revoke(key.keyId);
    expect(revoked.status).toBe('revoked');
    expect((await store.findBySecret(apiKey))?.status).toBe('revoked');
    expect(await store.list({ team: 'revokers', includeRevoked: false })).toEqual([]);
  });

  it('throws KeyNotFoundError for an unknown id', async () => {
    await expect(store.revoke('key_0000000000000000')).rejects.toBeInstanceOf(KeyNotFoundError);
  });
});

describe('Method: update', () => {
  it('replaces limits and budgets and removes fields set to null', async () => {
    const { key } = await store.create({ name: 'limits', rateLimits: { rpm: 10 }, expiresAt: 2_000_000_000_000 });
    const updated = await store.update(key.keyId, {
      rateLimits: { rpm: 5, tpm: 1000 },
      budgets: [{ scope: 'key', period: 'month', limitUsd: 20, mode: 'hard' }],
      expiresAt: null,
    });
    expect(updated.rateLimits).toEqual({ rpm: 5, tpm: 1000 });
    expect(updated.budgets).toEqual([{ scope: 'key', period: 'month', limitUsd: 20, mode: 'hard' }]);
    expect(updated.expiresAt).toBeUndefined();
  });
});

describe('Method: putPolicy / getPolicies', () => {
  it('stores team and global policies and reads several in one batch', async () => {
    await store.putPolicy('team', 'search', { rateLimits: { rpm: 100 }, budgets: [{ period: 'month', limitUsd: 50, mode: 'hard' }] });
    await store.putPolicy('global', '', { budgets: [{ period: 'day', limitUsd: 500, mode: 'soft' }] });
    const found = await store.getPolicies([
      { scope: 'team', id: 'search' },
      { scope: 'global', id: '*' },
      { scope: 'feature', id: 'none' },
    ]);
    expect(found.get('team#search')?.budgets).toEqual([{ scope: 'team', id: 'search', period: 'month', limitUsd: 50, mode: 'hard' }]);
    expect(found.get('global#*')?.budgets[0]).toMatchObject({ scope: 'global', id: '*', mode: 'soft' });
    expect(found.has('feature#none')).toBe(false);
  });

  it('refuses rate limits on a non-team policy', async () => {
    await expect(store.putPolicy('customer', 'acme', { rateLimits: { rpm: 1 } })).rejects.toThrow(/team policies only/);
  });
});
