/**
 * Spend forecasts from the burn rate so far, pure: spend grows at the period's average rate until it
 * ends. Integer micro-dollars; the projection is computed in BigInt (spend × period length overflows a
 * double's exact range) and rounded down; the exhaustion time is rounded up to the millisecond.
 */
import type { BudgetPeriod } from './budgets';

/** Start and end (exclusive) of the UTC day or month containing `nowMs`, in epoch ms. */
export function periodBounds(period: BudgetPeriod, nowMs: number): { start: number; end: number } {
  const d = new Date(nowMs);
  if (period === 'day') {
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    return { start, end: start + 86_400_000 };
  }
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

export interface Forecast {
  /** Spend at the end of the period at the current rate. */
  projectedMicros: number;
  /** When spend reaches the limit at that rate, if before the period ends (epoch ms). */
  exhaustsAt?: number;
}

export function forecastSpend(input: { spentMicros: number; limitMicros?: number; start: number; end: number; now: number }): Forecast {
  const { spentMicros: spent, start, end } = input;
  const elapsed = Math.max(1, Math.min(input.now, end) - start);
  const projectedMicros = Number((BigInt(Math.max(0, spent)) * BigInt(end - start)) / BigInt(elapsed));
  const forecast: Forecast = { projectedMicros };
  const limit = input.limitMicros;
  if (limit !== undefined && spent > 0) {
    if (spent >= limit) {
      forecast.exhaustsAt = Math.min(input.now, end);
    } else {
      // start + elapsed × limit / spent, rounded up.
      const at = start + Number((BigInt(elapsed) * BigInt(limit) + BigInt(spent) - 1n) / BigInt(spent));
      if (at < end) forecast.exhaustsAt = at;
    }
  }
  return forecast;
}
