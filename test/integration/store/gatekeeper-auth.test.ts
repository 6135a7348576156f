import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AuthenticationError, BadRequestError, GatewayError, PermissionDeniedError } from '../../../lambda/core/errors';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { KeyStore } from '../../../lambda/store/key-store';
import { countDynamoRequests } from '../../../lambda/store/request-counter';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';
import { admission, fixedEstimate, T0, testConfig } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let clock = T0;
let gate: DynamoGatekeeper;
const config = testConfig();

beforeAll(async () => {
  client = testDynamoClient();
  tables = await createTestTables(client, 'auth');
  keys = new KeyStore({ client, table: tables.keys, now: () => clock });
  gate = createDynamoGatekeeper({ client, tables, config, now: () => clock, estimateInputTokens: fixedEstimate(10) });
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
});

beforeEach(() => {
  clock = T0;
  gate.clearCaches();
});

async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('Method: admit (authentication)', () => {
  it('admits a Bearer key and attributes the key defaults', async () => {
    const { apiKey, key } = await keys.create({ name: 'search-prod', team: 'search', customer: 'acme', environment: 'prod', defaultFeature: 'qa', logContent: true });
    const a = await gate.admit(admission(config, apiKey));
    expect(a.attribution).toEqual({ keyId: key.keyId, keyName: 'search-prod', team: 'search', customer: 'acme', environment: 'prod', feature: 'qa', logContent: true });
    await a.settle({ status: 'client_abort', httpStatus: 499, stream: false, usageEstimated: false, totalMs: 1, attempts: 0, fallback: false, endedAt: T0 });
  });

  it('accepts the key in x-api-key', async () => {
    const { apiKey } = await keys.create({ name: 'x-api-key' });
    await expect(gate.admit(admission(config, undefined, { headers: { 'x-api-key': apiKey } }))).resolves.toBeDefined();
  });

  it('rejects a missing key with 401 missing_api_key', async () => {
    const err = await rejection(gate.admit(admission(config, undefined)));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.toBody().error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
  });

  it('rejects a wrong key with 401 invalid_api_key', async () => {
    const err = await rejection(gate.admit(admission(config, 'tg_' + 'x'.repeat(43))));
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_api_key');
  });

  it('rejects a revoked key with 401 once the cache has expired', async () => {
    const { apiKey, key } = await keys.create({ name: 'revoke-me' });
    await gate.admit(admission(config, apiKey));
    await keys.revoke(key.keyId);
    clock = T0 + 29_000; // still cached: revocation takes effect within keyCacheSeconds
    await expect(gate.admit(admission(config, apiKey))).resolves.toBeDefined();
    clock = T0 + 30_001;
    const err = await rejection(gate.admit(admission(config, apiKey)));
    expect(err.status).toBe(401);
    expect(err.code).toBe('api_key_revoked');
  });

  it('rejects an expired key with 401 api_key_expired', async () => {
    const { apiKey } = await keys.create({ name: 'expiring', expiresAt: T0 + 10 });
    await expect(gate.admit(admission(config, apiKey, { now: T0 }))).resolves.toBeDefined();
    const err = await rejection(gate.admit(admission(config, apiKey, { now: T0 + 10 })));
    expect(err.code).toBe('api_key_expired');
  });

  it('caches unknown keys only for a second, so a key works right after it is created', async () => {
    const store = new KeyStore({ client, table: tables.keys, random: () => Buffer.alloc(32, 7) });
    const secret = 'tg_' + Buffer.alloc(32, 7).toString('base64url');
    await expect(gate.admit(admission(config, secret))).rejects.toBeInstanceOf(AuthenticationError);
    await store.create({ name: 'late' }).catch(() => undefined);
    clock = T0 + 500;
    await expect(gate.admit(admission(config, secret))).rejects.toBeInstanceOf(AuthenticationError); // negative cache
    clock = T0 + 1_001;
    await expect(gate.admit(admission(config, secret))).resolves.toBeDefined();
  });

  it('reads the key once per cache period', async () => {
    const { apiKey } = await keys.create({ name: 'cached' });
    const counter = countDynamoRequests(client);
    try {
      await gate.admit(admission(config, apiKey));
      const afterFirst = counter.counts.reads;
      await gate.admit(admission(config, apiKey));
      await gate.admit(admission(config, apiKey));
      expect(afterFirst).toBe(2); // key GetItem + one BatchGetItem of the policies
      expect(counter.counts.reads).toBe(afterFirst);
    } finally {
      counter.stop();
    }
  });
});

describe('Method: admit (permissions and attribution)', () => {
  it('rejects a model outside allowedModels with 403 model_not_allowed', async () => {
    const { apiKey } = await keys.create({ name: 'only-unpriced', allowedModels: ['unpriced'] });
    const err = await rejection(gate.admit(admission(config, apiKey)));
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err.code).toBe('model_not_allowed');
  });

  it('takes the feature from the header, then metadata, within allowedFeatures', async () => {
    const { apiKey } = await keys.create({ name: 'features', defaultFeature: 'chat', allowedFeatures: ['search', 'summarise'] });
    expect((await gate.admit(admission(config, apiKey, { headers: { 'x-tollgate-feature': 'search' } }))).attribution.feature).toBe('search');
    expect((await gate.admit(admission(config, apiKey, { request: { metadata: { feature: 'summarise' } } }))).attribution.feature).toBe('summarise');
    expect((await gate.admit(admission(config, apiKey))).attribution.feature).toBe('chat');
    const err = await rejection(gate.admit(admission(config, apiKey, { headers: { 'x-tollgate-feature': 'billing' } })));
    expect(err.status).toBe(403);
    expect(err.code).toBe('feature_not_allowed');
  });

  it('rejects a malformed feature with 400', async () => {
    const { apiKey } = await keys.create({ name: 'bad-feature' });
    const err = await rejection(gate.admit(admission(config, apiKey, { headers: { 'x-tollgate-feature': 'a#b' } })));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.param).toBe('x-tollgate-feature');
  });

  it('lets a request name its customer only when the key allows it', async () => {
    const fixed = await keys.create({ name: 'fixed-customer', customer: 'acme' });
    const err = await rejection(gate.admit(admission(config, fixed.apiKey, { headers: { 'x-tollgate-customer': 'globex' } })));
    expect(err.code).toBe('customer_override_not_allowed');
    // Naming its own customer, or sending `user`, is fine.
    expect((await gate.admit(admission(config, fixed.apiKey, { headers: { 'x-tollgate-customer': 'acme' } }))).attribution.customer).toBe('acme');
    expect((await gate.admit(admission(config, fixed.apiKey, { request: { user: 'u-1' } }))).attribution.customer).toBe('acme');

    const open = await keys.create({ name: 'open-customer', customer: 'acme', allowCustomerOverride: true });
    expect((await gate.admit(admission(config, open.apiKey, { request: { user: 'u-1' } }))).attribution.customer).toBe('u-1');
    expect((await gate.admit(admission(config, open.apiKey, { request: { user: 'u-1', metadata: { customer: 'globex' } } }))).attribution.customer).toBe('globex');
  });

  it.each([
    ['hard-budgeted', [{ scope: 'key' as const, period: 'day' as const, limitUsd: 1, mode: 'hard' as const }]],
    ['unbudgeted', []],
  ])('rejects a %s request for a model with no known price with 400 model_not_priced', async (_, budgets) => {
    const { apiKey } = await keys.create({ name: 'budgeted', budgets });
    const err = await rejection(gate.admit(admission(config, apiKey, { model: 'unpriced' })));
    expect(err.status).toBe(400);
    expect(err.code).toBe('model_not_priced');
  });
});
