/**
 * Usage on the ledger table: one record per request (TTL'd) and day rollups per dimension (kept), and
 * the read side for reports and the CLI. Rollup items live in `usage#<dimension>#<yyyy-mm>` with sort key
 * `<yyyy-mm-dd>#<value>`, so "spend by feature for 2026-11" or "for 2026-11-25" is one Query.
 */
import type { StoreClient } from './lean-client';
import { GetCommand, PutCommand, QueryCommand, type DocumentClient } from './lean-commands';
import { GLOBAL_BUDGET_ID, parsePeriodKey, type BudgetScope, type TopSpender } from '../core/budgets';
import { contributionOf, recordTtlSeconds, USAGE_DIMENSIONS, type RecordContribution, type UsageDimension, type UsageRecord } from '../core/metering';
import { microsToUsd } from '../core/pricing';
import { DynamoBudgetLedger, type BudgetTotals } from './budget-ledger';
import { conditionFailedItem, documentClient, isConditionalCheckFailed, num, readItems, type Item } from './dynamo';
import { deriveMarkerKey, requestRecordKey, rollupPk, type LedgerKey } from './item-keys';
import type { DeriveQueue } from './usage-deriver';

/** What committing a record did: wrote it, replaced the sweeper's `lost` record, or found it written. */
export type CommitResult = 'created' | 'corrected' | 'duplicate';

/**
 * Writes request records, the ledger's source of truth. A record's key is fixed at admission, and it is
 * written with a conditional put, so however often a settlement is retried or replayed (SDK retries,
 * backoff, the outbox) there is exactly one record per request. The only overwrite allowed is a real
 * record replacing the sweeper's `lost` one (version 2, carrying what the lost one had contributed).
 * The version still to be rolled up goes to the in-memory queue of this process's deriver when it has one
 * (no second write on the request path), otherwise to a derivation marker (usage-deriver.ts). With a
 * deriver, version 1 carries the process id and sequence number (`dp`, `dn`) its derivation is proven by.
 */
export class UsageRecorder {
  constructor(
    private readonly doc: DocumentClient,
    private readonly table: string,
    private readonly recordTtlDays: number,
    private readonly deriveQueue?: DeriveQueue,
  ) {}

  /** Hand a version just written to the deriver: in memory if this process derives, else a marker. */
  private async toDerive(key: LedgerKey, requestId: string, version: number, n?: number): Promise<void> {
    if (this.deriveQueue) this.deriveQueue.enqueue(key, version, n);
    else await this.mark(key, requestId, version);
  }

  async commit(r: UsageRecord, ttlDays = this.recordTtlDays): Promise<CommitResult> {
    const key = requestRecordKey(r.day, r.admittedAt, r.requestId);
    const q = this.deriveQueue;
    // Claimed before the put; if the put fails it stays unresolved (it may have landed) until a retry tells.
    const n = q?.claim(key);
    // The item's own keys first and the record spread after them (a record has none of them). A spread that
    // opens a literal gives its copy a map outside V8 11's transition tree, and every key added to it then
    // makes new maps per call on Node 20 (plain-object.ts); one that follows keys copies into a map in the
    // tree, so dp and dn may follow. `npx tsx bench/spread-maps.ts` times both forms.
    const item: Item = { pk: key.pk, sk: key.sk, kind: 'request', v: 1, ttl: recordTtlSeconds(r.endedAt, ttlDays), ...r };
    if (q) {
      item.dp = q.processId;
      item.dn = n;
    }
    let old: Item | undefined;
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
      await this.toDerive(key, r.requestId, 1, n);
      return 'created';
    } catch (err) {
      if (!isConditionalCheckFailed(err)) {
        q?.failed(key);
        throw err;
      }
      try {
        old = conditionFailedItem(err) ?? (await this.read(key));
      } catch (readErr) {
        q?.failed(key); // the item exists; whether it carries the number is not known
        throw readErr;
      }
    }
    // This put did not write; the item may carry this process's number from an earlier attempt that did.
    const mine = q !== undefined && old?.dp === q.processId && typeof old.dn === 'number';
    q?.refused(key, mine ? { n: num(old?.dn), v: num(old?.v) || 1 } : undefined);
    // A derivation pass may set the lost record's `dv` between that read and this put: the put is conditional
    // on the `dv` it copies, and on a failed condition the item is read again (dv only rises: a few tries).
    for (let attempt = 0; old?.status === 'lost' && r.status !== 'lost' && attempt < 3; attempt++) {
      try {
        const replaced = contributionOf(old as unknown as UsageRecord);
        const { dp: _dp, dn: _dn, ...fields } = item;
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            // The soft budgets the lost record named are the ones its charge went to: keep them. So are its
            // derived version and sequence number (what tells whether its part is in the totals).
            Item: {
              ...fields,
              v: 2,
              replaced,
              softBudgets: old.softBudgets ?? r.softBudgets,
              ...(old.dv !== undefined ? { dv: old.dv } : {}),
              ...(old.dp !== undefined ? { dp: old.dp, dn: old.dn } : {}),
            },
            ConditionExpression: old.dv === undefined ? '#status = :lost AND attribute_not_exists(dv)' : '#status = :lost AND dv = :dv',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':lost': 'lost', ...(old.dv !== undefined ? { ':dv': old.dv } : {}) },
          }),
        );
        await this.toDerive(key, r.requestId, 2);
        return 'corrected';
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        old = await this.read(key);
      }
    }
    // Already written (a retry, a replay, or the record this one raced). Its marker may have been lost
    // with a process that died between the two writes: put it again while the version is underived. A
    // version 1 of this process is in its deriver's queue (or derived) already: no marker for it.
    const version = num(old?.v) || 1;
    const ownV1 = q !== undefined && old?.dp === q.processId && version === 1;
    if (!ownV1 && num(old?.dv) < version) await this.mark(key, r.requestId, version);
    return 'duplicate';
  }

  /** Records by key (consistent BatchGet), for the sweeper: itemId(key) → item. */
  readMany(keys: ReadonlyArray<LedgerKey>): Promise<Map<string, Item>> {
    return readItems(this.doc, this.table, keys);
  }

  /** Put the derivation marker of a record version (idempotent: the same item every time). */
  async mark(key: LedgerKey, requestId: string, version: number): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...deriveMarkerKey(key, requestId, version), record: key, v: version } }));
  }

  private async read(key: LedgerKey): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))).Item;
  }
}

export interface UsageRow extends RecordContribution {
  dimension: UsageDimension;
  value: string;
  costUsd: number;
  /** Key rows only: the key's team and name. */
  team?: string;
  keyName?: string;
}

export interface UsageReaderOptions {
  client: StoreClient;
  /** The ledger table name. */
  table: string;
  /** config.metering.globalBudgetShards, to sum the global budget's shards. */
  globalBudgetShards?: number;
}

export class UsageReader {
  private readonly doc: DocumentClient;
  private readonly table: string;
  private readonly ledger: DynamoBudgetLedger;

  constructor(opts: UsageReaderOptions) {
    this.doc = documentClient(opts.client);
    this.table = opts.table;
    this.ledger = new DynamoBudgetLedger(this.doc, this.table, { globalShards: opts.globalBudgetShards ?? 1 });
  }

  /** A budget's spend and open reservations for a period (`2026-11-25` or `2026-11`). */
  async budget(scope: BudgetScope, id: string, period: string): Promise<BudgetTotals & { spentUsd: number; reservedUsd: number }> {
    if (!parsePeriodKey(period)) throw new Error(`Period '${period}' is neither a day (YYYY-MM-DD) nor a month (YYYY-MM).`);
    const totals = await this.ledger.totals({ scope, id: scope === 'global' ? GLOBAL_BUDGET_ID : id }, period);
    return { ...totals, spentUsd: microsToUsd(totals.spentMicros), reservedUsd: microsToUsd(totals.reservedMicros) };
  }

  /** Usage by one dimension for a UTC day (`2026-11-25`) or month (`2026-11`), most expensive first. */
  async usageBy(dimension: UsageDimension, period: string): Promise<UsageRow[]> {
    if (!USAGE_DIMENSIONS.includes(dimension)) throw new Error(`Unknown usage dimension '${dimension}'.`);
    const kind = parsePeriodKey(period);
    if (!kind) throw new Error(`Period '${period}' is neither a day (YYYY-MM-DD) nor a month (YYYY-MM).`);
    const items = await this.queryAll({
      KeyConditionExpression: kind === 'day' ? 'pk = :pk AND begins_with(sk, :day)' : 'pk = :pk',
      ExpressionAttributeValues: kind === 'day' ? { ':pk': rollupPk(dimension, period.slice(0, 7)), ':day': `${period}#` } : { ':pk': rollupPk(dimension, period) },
    });
    const rows = new Map<string, UsageRow>();
    for (const item of items) {
      const value = String(item.value);
      const row = rows.get(value) ?? emptyRow(dimension, value);
      row.requests += num(item.requests);
      row.errors += num(item.errors);
      row.inputTokens += num(item.inputTokens);
      row.outputTokens += num(item.outputTokens);
      row.cacheReadTokens += num(item.cacheReadTokens);
      row.cacheWriteTokens += num(item.cacheWriteTokens);
      row.costMicros += num(item.costMicros);
      if (typeof item.team === 'string') row.team = item.team;
      if (typeof item.keyName === 'string' && item.keyName) row.keyName = item.keyName;
      rows.set(value, row);
    }
    return [...rows.values()]
      .map((r) => ({ ...r, costUsd: microsToUsd(r.costMicros) }))
      .sort((a, b) => b.costMicros - a.costMicros || a.value.localeCompare(b.value));
  }

  /** The biggest spenders of a dimension in a period; `team` restricts key rows to one team's keys. */
  async topSpenders(dimension: UsageDimension, period: string, opts: { limit?: number; team?: string } = {}): Promise<TopSpender[]> {
    const rows = await this.usageBy(dimension, period);
    return rows
      .filter((r) => opts.team === undefined || r.team === opts.team)
      .slice(0, opts.limit ?? 5)
      .map((r) => ({ dimension, id: r.value, spentUsd: r.costUsd }));
  }

  /** Per-request records of a UTC day, oldest first (optionally one key's only). */
  async requests(day: string, opts: { keyId?: string; limit?: number } = {}): Promise<UsageRecord[]> {
    const items = await this.queryAll(
      {
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `req#${day}`, ...(opts.keyId ? { ':keyId': opts.keyId } : {}) },
        FilterExpression: opts.keyId ? 'keyId = :keyId' : undefined,
      },
      opts.limit,
    );
    // Bookkeeping attributes (version, derived version, soft budgets named) are not part of the record.
    return items.map(({ pk: _pk, sk: _sk, kind: _kind, ttl: _ttl, v: _v, dv: _dv, dp: _dp, dn: _dn, softBudgets: _soft, ...rest }) => rest as unknown as UsageRecord);
  }

  private async queryAll(
    q: { KeyConditionExpression: string; ExpressionAttributeValues: Item; FilterExpression?: string },
    limit?: number,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ TableName: this.table, ...q, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && (limit === undefined || items.length < limit));
    return limit === undefined ? items : items.slice(0, limit);
  }
}

function emptyRow(dimension: UsageDimension, value: string): UsageRow {
  return { dimension, value, requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costMicros: 0, costUsd: 0 };
}
