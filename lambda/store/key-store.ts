/**
 * API keys and policies in the keys table. A key is shown once at creation; the table stores only its
 * SHA-256 (the item key, so authentication is one GetItem) plus a non-secret key id and display prefix.
 *
 * Items (pk only):
 *   key#<sha256hex>          the key's configuration (never the key itself)
 *   keyid#<keyId>            pointer to the hash, so admins can address a key by its id
 *   policy#<scope>#<id>      budgets (and, for teams, rate limits) shared by every request of that
 *                            team / customer / feature, or by every request (`policy#global#*`)
 */
import { createHash, randomBytes } from 'node:crypto';
import type { StoreClient } from './lean-client';
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import * as z from 'zod';
import { budgetRuleSchema, GLOBAL_BUDGET_ID, type BudgetRule } from '../core/budgets';
import { rateLimitsSchema, type RateLimits } from '../core/limits';
import { onFirstUse } from '../core/on-first-use';
import { ATTRIBUTION_ID } from '../core/metering';
import { apiKeyPk, keyIdRefPk, policyPk, type PolicyScope } from './item-keys';
import { documentClient, isConditionalCheckFailed, type Item } from './dynamo';

export const API_KEY_PREFIX = 'tg_';
/** Characters of the key kept for display (`tg_AbCdE`): enough to tell keys apart, far too few to guess. */
export const DISPLAY_PREFIX_LENGTH = 8;

// The admin's input schemas are built on first use: the gateway's request path never parses them.
const attributionId = onFirstUse(() => z.string().regex(ATTRIBUTION_ID, 'ids are 1-128 letters, digits and . _ @ + / - (no # or :)'));

const createKeyInputSchema = onFirstUse(() => {
  const id = attributionId();
  return z.strictObject({
    name: z.string().min(1).max(200),
    team: id.optional(),
    customer: id.optional(),
    environment: id.optional(),
    defaultFeature: id.optional(),
    /** Model names the key may request (alias or provider/model); empty: all. */
    allowedModels: z.array(z.string().min(1)).default([]),
    /** Features a request may name (header or metadata); empty: any. The default feature is always allowed. */
    allowedFeatures: z.array(id).default([]),
    /** Requests may name their customer (header, metadata, or `user`); otherwise the key's customer is used. */
    allowCustomerOverride: z.boolean().default(false),
    /** Epoch ms after which the key is rejected. */
    expiresAt: z.number().int().positive().optional(),
    rateLimits: rateLimitsSchema.optional(),
    budgets: z.array(budgetRuleSchema).default([]),
    /** Prompt and response content may be logged for this key's requests. */
    logContent: z.boolean().default(false),
  });
});
export type CreateKeyInput = z.input<ReturnType<typeof createKeyInputSchema>>;

const updateKeyInputSchema = onFirstUse(() =>
  createKeyInputSchema().partial().extend({
    expiresAt: z.number().int().positive().nullable().optional(),
    rateLimits: rateLimitsSchema.nullable().optional(),
  }),
);
export type UpdateKeyInput = z.input<ReturnType<typeof updateKeyInputSchema>>;

export type KeyStatus = 'active' | 'revoked';

export interface ApiKeyRecord {
  keyId: string;
  /** First characters of the key, for recognising it in listings. */
  prefix: string;
  name: string;
  team?: string;
  customer?: string;
  environment?: string;
  defaultFeature?: string;
  allowedModels: string[];
  allowedFeatures: string[];
  allowCustomerOverride: boolean;
  expiresAt?: number;
  status: KeyStatus;
  createdAt: number;
  revokedAt?: number;
  rateLimits?: RateLimits;
  budgets: BudgetRule[];
  logContent: boolean;
}

const policyInputSchema = onFirstUse(() =>
  z.strictObject({
    /** Honoured on team policies only (per-team RPM/TPM across all of the team's keys). */
    rateLimits: rateLimitsSchema.optional(),
    /** Budgets of this policy's own scope and id: scope and id come from the policy. */
    budgets: z.array(budgetRuleSchema.omit({ scope: true, id: true })).default([]),
  }),
);
export type PolicyInput = z.input<ReturnType<typeof policyInputSchema>>;

export interface PolicyRecord {
  scope: PolicyScope;
  id: string;
  rateLimits?: RateLimits;
  budgets: BudgetRule[];
  updatedAt: number;
}

export class KeyNotFoundError extends Error {
  constructor(keyId: string) {
    super(`No API key with id '${keyId}'.`);
    this.name = 'KeyNotFoundError';
  }
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export function generateApiKey(random: (n: number) => Buffer = randomBytes): string {
  return API_KEY_PREFIX + random(32).toString('base64url');
}

export interface KeyStoreOptions {
  client: StoreClient;
  /** The keys table name. */
  table: string;
  now?: () => number;
  random?: (n: number) => Buffer;
}

export class KeyStore {
  private readonly doc: DocumentClient;
  private readonly table: string;
  private readonly now: () => number;
  private readonly random: (n: number) => Buffer;

  constructor(opts: KeyStoreOptions) {
    this.doc = documentClient(opts.client);
    this.table = opts.table;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? randomBytes;
  }

  /** Creates a key; `apiKey` is the only time the secret exists outside the caller's hands. */
  async create(input: CreateKeyInput): Promise<{ apiKey: string; key: ApiKeyRecord }> {
    const parsed = createKeyInputSchema().parse(input);
    const apiKey = generateApiKey(this.random);
    const keyHash = hashApiKey(apiKey);
    const key: ApiKeyRecord = {
      keyId: `key_${this.random(8).toString('hex')}`,
      prefix: apiKey.slice(0, DISPLAY_PREFIX_LENGTH),
      ...parsed,
      status: 'active',
      createdAt: this.now(),
    };
    // Pointer first: a failure between the two puts leaves a dangling pointer (get → not found), never a
    // live key nobody can address; the caller never saw the secret of a failed create.
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: keyIdRefPk(key.keyId), kind: 'keyRef', keyHash },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: apiKeyPk(keyHash), kind: 'apiKey', ...key },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { apiKey, key };
  }

  /** The key a secret names, whatever its status (the gatekeeper decides); undefined when unknown. */
  async findBySecret(apiKey: string): Promise<ApiKeyRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: apiKeyPk(hashApiKey(apiKey)) }, ConsistentRead: true }));
    return out.Item ? toKeyRecord(out.Item) : undefined;
  }

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    const hash = await this.hashOf(keyId);
    if (!hash) return undefined;
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: apiKeyPk(hash) }, ConsistentRead: true }));
    return out.Item ? toKeyRecord(out.Item) : undefined;
  }

  /** All keys (a Scan: admin listing over a small table), newest first. */
  async list(filter: { team?: string; includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
    const items = await this.scanPrefix('key#');
    return items
      .map(toKeyRecord)
      .filter((k) => filter.includeRevoked !== false || k.status === 'active')
      .filter((k) => filter.team === undefined || k.team === filter.team)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Revoked keys are rejected once containers' caches expire (config.metering.keyCacheSeconds). */
  async revoke(keyId: string): Promise<ApiKeyRecord> {
    return this.updateItem(keyId, { status: 'revoked', revokedAt: this.now() });
  }

  async update(keyId: string, patch: UpdateKeyInput): Promise<ApiKeyRecord> {
    const parsed = updateKeyInputSchema().parse(patch);
    const set: Item = {};
    const remove: string[] = [];
    for (const [field, value] of Object.entries(parsed)) {
      // Only fields the caller gave: zod 4's partial() still fills in the create defaults ([] / false).
      if (value === undefined || (patch as Record<string, unknown>)[field] === undefined) continue;
      if (value === null) remove.push(field);
      else set[field] = value;
    }
    return this.updateItem(keyId, set, remove);
  }

  async putPolicy(scope: PolicyScope, id: string, input: PolicyInput): Promise<PolicyRecord> {
    const policyId = scope === 'global' ? GLOBAL_BUDGET_ID : attributionId().parse(id);
    const parsed = policyInputSchema().parse(input);
    if (parsed.rateLimits && scope !== 'team') throw new Error('Rate limits can be set on team policies only.');
    const record: PolicyRecord = {
      scope,
      id: policyId,
      rateLimits: parsed.rateLimits,
      budgets: parsed.budgets.map((b) => ({ ...b, scope, id: policyId })),
      updatedAt: this.now(),
    };
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: policyPk(scope, policyId), kind: 'policy', ...record } }));
    return record;
  }

  async getPolicy(scope: PolicyScope, id: string): Promise<PolicyRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: policyPk(scope, id) }, ConsistentRead: true }));
    return out.Item ? toPolicyRecord(out.Item) : undefined;
  }

  /** Several policies in one BatchGetItem (missing ones are absent from the map), keyed by `scope#id`. */
  async getPolicies(refs: ReadonlyArray<{ scope: PolicyScope; id: string }>): Promise<Map<string, PolicyRecord>> {
    const found = new Map<string, PolicyRecord>();
    let keys = [...new Set(refs.map((r) => policyPk(r.scope, r.id)))].map((pk) => ({ pk }));
    for (let round = 0; keys.length > 0 && round < 5; round++) {
      const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of out.Responses?.[this.table] ?? []) {
        const p = toPolicyRecord(item);
        found.set(`${p.scope}#${p.id}`, p);
      }
      keys = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Array<{ pk: string }>;
    }
    if (keys.length > 0) throw new Error('BatchGetItem left keys unprocessed after 5 rounds');
    return found;
  }

  async listPolicies(): Promise<PolicyRecord[]> {
    return (await this.scanPrefix('policy#')).map(toPolicyRecord);
  }

  async deletePolicy(scope: PolicyScope, id: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: policyPk(scope, id) } }));
  }

  private async hashOf(keyId: string): Promise<string | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: keyIdRefPk(keyId) }, ConsistentRead: true }));
    return typeof out.Item?.keyHash === 'string' ? out.Item.keyHash : undefined;
  }

  private async updateItem(keyId: string, set: Item, remove: string[] = []): Promise<ApiKeyRecord> {
    const hash = await this.hashOf(keyId);
    if (!hash) throw new KeyNotFoundError(keyId);
    const names: Record<string, string> = {};
    const values: Item = {};
    const sets = Object.entries(set).map(([field, value], i) => {
      names[`#s${i}`] = field;
      values[`:s${i}`] = value;
      return `#s${i} = :s${i}`;
    });
    const removes = remove.map((field, i) => {
      names[`#r${i}`] = field;
      return `#r${i}`;
    });
    const expression = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].join(' ').trim();
    if (!expression) {
      const current = await this.get(keyId);
      if (!current) throw new KeyNotFoundError(keyId);
      return current;
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: apiKeyPk(hash) },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toKeyRecord(out.Attributes ?? {});
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new KeyNotFoundError(keyId);
      throw err;
    }
  }

  private async scanPrefix(prefix: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'begins_with(pk, :p)',
          ExpressionAttributeValues: { ':p': prefix },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function toKeyRecord(item: Item): ApiKeyRecord {
  return {
    keyId: String(item.keyId),
    prefix: String(item.prefix),
    name: String(item.name),
    team: str(item.team),
    customer: str(item.customer),
    environment: str(item.environment),
    defaultFeature: str(item.defaultFeature),
    allowedModels: (item.allowedModels as string[] | undefined) ?? [],
    allowedFeatures: (item.allowedFeatures as string[] | undefined) ?? [],
    allowCustomerOverride: item.allowCustomerOverride === true,
    expiresAt: typeof item.expiresAt === 'number' ? item.expiresAt : undefined,
    status: item.status === 'revoked' ? 'revoked' : 'active',
    createdAt: Number(item.createdAt),
    revokedAt: typeof item.revokedAt === 'number' ? item.revokedAt : undefined,
    rateLimits: item.rateLimits as RateLimits | undefined,
    budgets: (item.budgets as BudgetRule[] | undefined) ?? [],
    logContent: item.logContent === true,
  };
}

function toPolicyRecord(item: Item): PolicyRecord {
  return {
    scope: item.scope as PolicyScope,
    id: String(item.id),
    rateLimits: item.rateLimits as RateLimits | undefined,
    budgets: (item.budgets as BudgetRule[] | undefined) ?? [],
    updatedAt: Number(item.updatedAt),
  };
}
