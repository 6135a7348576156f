/**
 * Budget threshold alerts, exactly once per budget, period and threshold. The crossing is decided from
 * the settlement's own atomic update (spend before and after, from UPDATED_NEW), so only one settlement
 * can cross a given mark; a conditional put of a marker item makes it once-only even against retries.
 *
 * The sharded global budget has no single counter to read the crossing from: when a shard crosses a
 * checkpoint of its own share (each threshold and every 10%), all shards are summed and every threshold
 * the total has reached is claimed. An alert can therefore lag the true crossing by up to one checkpoint
 * of one shard's share, but is still sent exactly once.
 */
import { shardCaps, thresholdsCrossed, type BudgetAlertSink, type EffectiveBudget, type TopSpender } from '../core/budgets';
import { microsToUsd } from '../core/pricing';
import type { DynamoBudgetLedger, SpendChange } from './budget-ledger';
import { settleAll } from './dynamo';
import type { UsageReader } from './usage-store';

/** Every 10% of a shard's share, up to the highest threshold. */
function shardCheckpoints(thresholds: ReadonlyArray<number>): number[] {
  const top = Math.max(100, ...thresholds);
  return [...new Set([...thresholds, ...Array.from({ length: Math.ceil(top / 10) }, (_, i) => (i + 1) * 10)])];
}

export interface BudgetAlertsOptions {
  ledger: DynamoBudgetLedger;
  usage: UsageReader;
  sink: BudgetAlertSink;
  globalShards: number;
  now: () => number;
}

export class BudgetAlerts {
  constructor(private readonly opts: BudgetAlertsOptions) {}

  async evaluate(changes: ReadonlyArray<SpendChange>): Promise<void> {
    await settleAll(changes.map((c) => this.evaluateOne(c)));
  }

  private async evaluateOne(c: SpendChange): Promise<void> {
    const b = c.budget;
    let reached: number[];
    let spentMicros: number;
    if (c.shard === undefined) {
      reached = thresholdsCrossed(c.beforeMicros, c.afterMicros, b.limitMicros, b.thresholdsPercent);
      spentMicros = c.afterMicros;
    } else {
      const share = shardCaps(b.limitMicros, this.opts.globalShards)[c.shard] ?? 0;
      if (thresholdsCrossed(c.beforeMicros, c.afterMicros, share, shardCheckpoints(b.thresholdsPercent)).length === 0) return;
      spentMicros = (await this.opts.ledger.totals(b, c.period)).spentMicros;
      reached = b.thresholdsPercent.filter((t) => b.limitMicros > 0 && spentMicros >= (b.limitMicros * t) / 100);
    }
    for (const percent of reached) {
      const claimed = await this.opts.ledger.claimThresholdAlert(b.scope, b.id, c.period, percent, {
        kind: 'alertMarker',
        spentMicros,
        limitMicros: b.limitMicros,
        claimedAt: this.opts.now(),
      });
      if (!claimed) continue;
      await this.opts.sink.budgetThresholdCrossed({
        budget: `${b.scope}:${b.id}:${b.period}`,
        scope: b.scope,
        id: b.id,
        period: c.period,
        thresholdPercent: percent,
        spentUsd: microsToUsd(spentMicros),
        limitUsd: microsToUsd(b.limitMicros),
        mode: b.mode,
        topSpenders: await this.topSpenders(b, c.period).catch(() => []),
      });
    }
  }

  /**
   * Who spent the most in the period: for the global budget the top teams, features and keys; for a team
   * budget the team's keys; otherwise the top entries of the budget's own dimension across the gateway.
   */
  private async topSpenders(b: EffectiveBudget, period: string): Promise<TopSpender[]> {
    const { usage } = this.opts;
    switch (b.scope) {
      case 'global': {
        const parts = await Promise.all([
          usage.topSpenders('team', period, { limit: 3 }),
          usage.topSpenders('feature', period, { limit: 3 }),
          usage.topSpenders('key', period, { limit: 3 }),
        ]);
        return parts.flat();
      }
      case 'team':
        return usage.topSpenders('key', period, { limit: 5, team: b.id });
      default:
        return usage.topSpenders(b.scope, period, { limit: 5 });
    }
  }
}
