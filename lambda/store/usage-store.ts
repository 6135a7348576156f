/**
 * Usage on the ledger table: one record per request (TTL'd) and day rollups per dimension (kept), and
 * the read side for reports and the CLI. Rollup items live in `usage#<dimension>#<yyyy-mm>` with sort key
 * `<yyyy-mm-dd>#<value>`, so "spend by feature for 2026-11" or "for 2026-11-25" is one Query.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GLOBAL_BUDGET_ID, parsePeriodKey, type BudgetScope, type TopSpender } from '../core/budgets';
import { dimensionValues, recordTtlSeconds, USAGE_DIMENSIONS, type UsageDimension, type UsageRecord } from '../core/metering';
import { microsToUsd } from '../core/pricing';
import { DynamoBudgetLedger, type BudgetTotals } from './budget-ledger';
import { documentClient, num, settleAll, type Item } from './dynamo';
import { insightUpdates } from './insight-rollups';
import { requestRecordKey, rollupKey, rollupPk } from './item-keys';

export class UsageRecorder {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly recordTtlDays: number,
  ) {}

  /** The record and its six rollups, written in parallel (a Put is idempotent; the rollups are ADDs). */
  async record(r: UsageRecord): Promise<void> {
    const errored = r.status === 'success' ? 0 : 1;
    const writes: Array<Promise<unknown>> = [
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...requestRecordKey(r.day, r.endedAt, r.requestId), kind: 'request', ...r, ttl: recordTtlSeconds(r.endedAt, this.recordTtlDays) },
        }),
      ),
    ];
    for (const { dimension, value } of dimensionValues(r)) {
      const names: Record<string, string> = { '#dimension': 'dimension', '#value': 'value', '#day': 'day' };
      const values: Item = {
        ':dimension': dimension,
        ':value': value,
        ':day': r.day,
        ':one': 1,
        ':in': r.inputTokens,
        ':out': r.outputTokens,
        ':cr': r.cacheReadTokens,
        ':cw': r.cacheWriteTokens,
        ':cost': r.costMicros,
        ':err': errored,
      };
      let set = '#dimension = :dimension, #value = :value, #day = :day';
      if (dimension === 'key') {
        // Lets a team budget's alert list the team's top keys from the same partition.
        set += ', team = :team, keyName = :keyName';
        values[':team'] = r.team ?? '-';
        values[':keyName'] = r.keyName ?? '';
      }
      writes.push(
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: rollupKey(dimension, r.day, value),
            UpdateExpression: `SET ${set} ADD requests :one, inputTokens :in, outputTokens :out, cacheReadTokens :cr, cacheWriteTokens :cw, costMicros :cost, errors :err`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    }
    for (const u of insightUpdates(this.table, r)) writes.push(this.doc.send(new UpdateCommand(u)));
    await settleAll(writes);
  }
}

export interface UsageRow {
  dimension: UsageDimension;
  value: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costMicros: number;
  costUsd: number;
  /** Key rows only: the key's team and name. */
  team?: string;
  keyName?: string;
}

export interface UsageReaderOptions {
  client: DynamoDBClient;
  /** The ledger table name. */
  table: string;
  /** config.metering.globalBudgetShards, to sum the global budget's shards. */
  globalBudgetShards?: number;
}

export class UsageReader {
  private readonly doc: DynamoDBDocumentClient;
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
    return items.map(({ pk: _pk, sk: _sk, kind: _kind, ttl: _ttl, ...rest }) => rest as unknown as UsageRecord);
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
