/**
 * Chargeback, pure: a month's usage per customer × team × feature × model (tokens and cost), from the
 * request records, as CSV and JSON Lines for finance and for Athena (the DDL is in docs/chargeback.md).
 * Cost is exact: integer micro-dollars summed, written as a 6-decimal USD string.
 */
import type { UsageRecord } from './metering';

export interface ChargebackRow {
  month: string;
  customer: string;
  team: string;
  feature: string;
  model: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_micros: number;
  cost_usd: string;
}

export const CHARGEBACK_COLUMNS = [
  'month', 'customer', 'team', 'feature', 'model', 'requests', 'errors', 'input_tokens', 'output_tokens',
  'cache_read_tokens', 'cache_write_tokens', 'cost_micros', 'cost_usd',
] as const satisfies ReadonlyArray<keyof ChargebackRow>;

const NONE = '-';

/** Exact USD with 6 decimals from integer micro-dollars. */
export function usdString(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

/** Adds records to the rows of `month` (call once per day's records; rows are keyed by the four ids). */
export function addToChargeback(rows: Map<string, ChargebackRow>, month: string, records: Iterable<UsageRecord>): void {
  for (const r of records) {
    const customer = r.customer ?? NONE;
    const team = r.team ?? NONE;
    const feature = r.feature ?? NONE;
    const key = [customer, team, feature, r.model].join('\u0000');
    const row = rows.get(key) ?? {
      month, customer, team, feature, model: r.model, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0,
      cache_read_tokens: 0, cache_write_tokens: 0, cost_micros: 0, cost_usd: '0.000000',
    };
    row.requests += 1;
    row.errors += r.status === 'success' ? 0 : 1;
    row.input_tokens += r.inputTokens;
    row.output_tokens += r.outputTokens;
    row.cache_read_tokens += r.cacheReadTokens;
    row.cache_write_tokens += r.cacheWriteTokens;
    row.cost_micros += r.costMicros;
    row.cost_usd = usdString(row.cost_micros);
    rows.set(key, row);
  }
}

/** Most expensive first, then by ids, so files are stable. */
export function sortedRows(rows: Map<string, ChargebackRow>): ChargebackRow[] {
  return [...rows.values()].sort(
    (a, b) => b.cost_micros - a.cost_micros || a.customer.localeCompare(b.customer) || a.team.localeCompare(b.team) || a.feature.localeCompare(b.feature) || a.model.localeCompare(b.model),
  );
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: ReadonlyArray<ChargebackRow>): string {
  return [CHARGEBACK_COLUMNS.join(','), ...rows.map((r) => CHARGEBACK_COLUMNS.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';
}

export function toJsonLines(rows: ReadonlyArray<ChargebackRow>): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}

/** Object keys, partitioned for Athena: `chargeback/format=csv/month=2026-11/usage.csv`. */
export function chargebackKeys(month: string): { csv: string; jsonl: string } {
  return { csv: `chargeback/format=csv/month=${month}/usage.csv`, jsonl: `chargeback/format=jsonl/month=${month}/usage.jsonl` };
}

/** The days of a month (`2026-11` → 2026-11-01 ... 2026-11-30). */
export function daysOf(month: string): string[] {
  const [y, m] = month.split('-').map(Number);
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: n }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

/** The month before the one containing `nowMs` (what the monthly export covers). */
export function previousMonth(nowMs: number): string {
  const d = new Date(nowMs);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}
