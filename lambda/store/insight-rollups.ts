/**
 * Rollups for `tollgate insights`, derived from the usage record like the dimension rollups and written
 * in the same round (ADDs on day items, so "a month" is one Query per kind, never a scan of records):
 *
 *   insight#fm#<yyyy-mm>     <day>#<feature>#<provider>/<model>   every request: tokens, cost, caps asked,
 *                                                                 histogram of output tokens
 *   insight#prefix#<yyyy-mm> <day>#<feature>#<prefixHash>         requests whose prompt prefix is cacheable
 *                                                                 (core/request-evidence.ts)
 *   insight#arm#<yyyy-mm>    <day>#<model>#<arm>                  requests of an experiment arm: cost,
 *                                                                 errors, fallbacks, latency histograms
 *
 * Histogram buckets are attributes `h<kind>_<bucket>` (core/histogram.ts).
 */
import { histogramBucket, type Histogram } from '../core/histogram';
import type { UsageRecord } from '../core/metering';
import { num, type Item } from './dynamo';
import type { LedgerKey } from './item-keys';

export type InsightKind = 'fm' | 'prefix' | 'arm';

export const insightPk = (kind: InsightKind, month: string) => `insight#${kind}#${month}`;
const insightKey = (kind: InsightKind, day: string, ...parts: string[]): LedgerKey => ({ pk: insightPk(kind, day.slice(0, 7)), sk: [day, ...parts].join('#') });

const NONE = '-';

/** One rollup item's change: descriptive attributes to SET and counters to ADD (zero counters left out). */
export interface RollupChange {
  key: LedgerKey;
  set: Record<string, string | number>;
  add: Record<string, number>;
}

function update(key: LedgerKey, set: Record<string, string | number>, add: Record<string, number>): RollupChange {
  return { key, set, add: Object.fromEntries(Object.entries(add).filter(([, v]) => v !== 0)) };
}

/**
 * The insight rollups one usage record contributes to (one to three). The deriver (usage-deriver.ts)
 * sums them over a batch of records and applies them exactly once.
 */
export function insightChanges(r: UsageRecord): RollupChange[] {
  const feature = r.feature ?? NONE;
  const provider = r.provider ?? NONE;
  const upstream = r.upstreamModel ?? r.model;
  const errored = r.status === 'success' ? 0 : 1;
  const tokens = {
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    costMicros: r.costMicros,
  };
  const out: RollupChange[] = [
    update(
      insightKey('fm', r.day, feature, `${provider}/${upstream}`),
      { feature, provider, upstreamModel: upstream, model: r.model, day: r.day },
      {
        requests: 1,
        errors: errored,
        ...tokens,
        cappedRequests: r.outputCapTokens !== undefined ? 1 : 0,
        capTokens: r.outputCapTokens ?? 0,
        ...(errored ? {} : { [`hout_${histogramBucket(r.outputTokens)}`]: 1 }),
      },
    ),
  ];
  if (r.prefixHash && r.prefixTokens) {
    out.push(
      update(
        insightKey('prefix', r.day, feature, r.prefixHash),
        { feature, provider, upstreamModel: upstream, prefixTokens: r.prefixTokens, day: r.day },
        { requests: 1, cacheReadTokens: r.cacheReadTokens, cacheWriteTokens: r.cacheWriteTokens, costMicros: r.costMicros },
      ),
    );
  }
  if (r.arm) {
    out.push(
      update(
        insightKey('arm', r.day, r.model, r.arm),
        { model: r.model, arm: r.arm, day: r.day },
        {
          requests: 1,
          errors: errored,
          fallbacks: r.fallback ? 1 : 0,
          ...tokens,
          [`htotal_${histogramBucket(r.totalMs)}`]: 1,
          ...(r.ttftMs !== undefined ? { [`httft_${histogramBucket(r.ttftMs)}`]: 1 } : {}),
        },
      ),
    );
  }
  return out;
}

/** The histogram `h<name>_<bucket>` attributes of an item. */
export function histogramOf(item: Item, name: string): Histogram {
  const h: Histogram = new Map();
  const prefix = `h${name}_`;
  for (const [k, v] of Object.entries(item)) if (k.startsWith(prefix)) h.set(Number(k.slice(prefix.length)), num(v));
  return h;
}
