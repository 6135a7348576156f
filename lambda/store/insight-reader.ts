/**
 * The read side of the insight rollups (store/insight-rollups.ts) and of the day rollups per dimension,
 * for `tollgate insights`, `report` and `export`: one paginated Query per partition, summed over the days
 * of the period.
 */
import type { StoreClient } from './lean-client';
import { QueryCommand, type DocumentClient } from './lean-commands';
import { parsePeriodKey } from '../core/budgets';
import { addHistograms } from '../core/histogram';
import type { ArmRow, FeatureModelRow, PrefixRow, TokenTotals } from '../core/insights';
import type { UsageDimension } from '../core/metering';
import { documentClient, num, type Item } from './dynamo';
import { histogramOf, insightPk, type InsightKind } from './insight-rollups';
import { rollupPk } from './item-keys';

/** One day's rollup of one dimension value (the raw item of `usage#<dimension>#<month>`). */
export interface DayRow extends TokenTotals {
  day: string;
  value: string;
}

const TOTAL_FIELDS = ['requests', 'errors', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'costMicros'] as const;

function addTotals<T extends TokenTotals>(into: T, item: Item): T {
  for (const f of TOTAL_FIELDS) into[f] += num(item[f]);
  return into;
}

const zeroTotals = (): TokenTotals => ({ requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costMicros: 0 });

export class InsightReader {
  private readonly doc: DocumentClient;
  private readonly table: string;

  constructor(opts: { client: StoreClient; table: string }) {
    this.doc = documentClient(opts.client);
    this.table = opts.table;
  }

  async featureModels(period: string): Promise<FeatureModelRow[]> {
    const rows = new Map<string, FeatureModelRow>();
    for (const item of await this.items('fm', period)) {
      const key = `${item.feature}#${item.provider}/${item.upstreamModel}`;
      const row = rows.get(key) ?? {
        feature: String(item.feature),
        provider: String(item.provider),
        upstreamModel: String(item.upstreamModel),
        model: String(item.model),
        ...zeroTotals(),
        cappedRequests: 0,
        capTokens: 0,
        outputHistogram: new Map(),
      };
      addTotals(row, item);
      row.cappedRequests += num(item.cappedRequests);
      row.capTokens += num(item.capTokens);
      addHistograms(row.outputHistogram, histogramOf(item, 'out'));
      rows.set(key, row);
    }
    return [...rows.values()].sort((a, b) => b.costMicros - a.costMicros);
  }

  async prefixes(period: string): Promise<PrefixRow[]> {
    const rows = new Map<string, PrefixRow>();
    for (const item of await this.items('prefix', period)) {
      const hash = String(item.sk).split('#')[2];
      const key = `${item.feature}#${hash}`;
      const row = rows.get(key) ?? {
        feature: String(item.feature),
        prefixHash: hash,
        provider: String(item.provider),
        upstreamModel: String(item.upstreamModel),
        prefixTokens: num(item.prefixTokens),
        requests: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        costMicros: 0,
        days: 0,
      };
      row.requests += num(item.requests);
      row.cacheReadTokens += num(item.cacheReadTokens);
      row.cacheWriteTokens += num(item.cacheWriteTokens);
      row.costMicros += num(item.costMicros);
      row.days += 1;
      rows.set(key, row);
    }
    return [...rows.values()];
  }

  async arms(period: string): Promise<ArmRow[]> {
    const rows = new Map<string, ArmRow>();
    for (const item of await this.items('arm', period)) {
      const key = `${item.model}#${item.arm}`;
      const row = rows.get(key) ?? { model: String(item.model), arm: String(item.arm), ...zeroTotals(), fallbacks: 0, totalMs: new Map(), ttftMs: new Map() };
      addTotals(row, item);
      row.fallbacks += num(item.fallbacks);
      addHistograms(row.totalMs, histogramOf(item, 'total'));
      addHistograms(row.ttftMs, histogramOf(item, 'ttft'));
      rows.set(key, row);
    }
    return [...rows.values()].sort((a, b) => a.model.localeCompare(b.model) || a.arm.localeCompare(b.arm));
  }

  /** Day by day rollups of one usage dimension (for charts and exports). */
  async daily(dimension: UsageDimension, period: string): Promise<DayRow[]> {
    const items = await this.query(rollupPk(dimension, period.slice(0, 7)), period.length === 10 ? `${period}#` : undefined);
    return items.map((item) => addTotals({ day: String(item.day), value: String(item.value), ...zeroTotals() }, item));
  }

  private items(kind: InsightKind, period: string): Promise<Item[]> {
    const type = parsePeriodKey(period);
    if (!type) throw new Error(`Period '${period}' is neither a day (YYYY-MM-DD) nor a month (YYYY-MM).`);
    return this.query(insightPk(kind, period.slice(0, 7)), type === 'day' ? `${period}#` : undefined);
  }

  private async query(pk: string, skPrefix: string | undefined): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :p)' : 'pk = :pk',
          ExpressionAttributeValues: skPrefix ? { ':pk': pk, ':p': skPrefix } : { ':pk': pk },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}
