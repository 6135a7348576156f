/** Output for people (aligned tables) and for scripts (CSV, JSON); money from integer micro-dollars. */

export type Cell = string | number;

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

export function renderTable(columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  const text = rows.map((r) => r.map((c) => String(c)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (columns[i].right ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n';
}

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled; CRLF-free (\n) lines. */
export function renderCsv(headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  const field = (v: Cell) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers, ...rows].map((r) => r.map(field).join(',')).join('\n') + '\n';
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** Exact decimal USD from integer micro-dollars: 1234567 → "1.234567" (no floating point on the way). */
export function usdFromMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.round(micros));
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

/** A money amount as configured (limits are USD numbers): 100 → "100.00", 0.005 → "0.005". */
export function usd(amount: number): string {
  return amount >= 0.01 || amount === 0 ? amount.toFixed(2) : String(amount);
}

export function isoDate(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const iso = new Date(ms).toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : `${iso.slice(0, 16)}Z`;
}
