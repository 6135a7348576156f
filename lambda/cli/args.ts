/**
 * Argument parsing for the admin CLI: node:util parseArgs wrapped so every mistake becomes a UsageError
 * (message + exit code 2), plus the value parsers the commands share (numbers, lists, dates, budgets).
 */
import { parseArgs } from 'node:util';
import { BUDGET_SCOPES, type BudgetMode, type BudgetPeriod, type BudgetRule, type BudgetScope } from '../core/budgets';
import { usdToMicros } from '../core/pricing';

/** Bad input: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help the message should point to (`keys create`). */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A missing key or policy: exit 1 (the input was well-formed; the thing is not there). */
export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

export interface OptionDef {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionDefs = Record<string, OptionDef>;

export type Parsed<O extends OptionDefs> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Options every command accepts: where the store is, and help. */
export const TARGET_OPTIONS = {
  local: { type: 'boolean' },
  'data-dir': { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  'keys-table': { type: 'string' },
  'ledger-table': { type: 'string' },
  endpoint: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionDefs;

export function parseCommandArgs<O extends OptionDefs>(args: string[], options: O, command: string): Parsed<O> {
  try {
    return parseArgs({ args: normalizeLocal(args), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err), command);
  }
}

/**
 * `--local` takes an optional folder: `--local=<dir>`, or `--local <dir>` when the next word looks like a
 * path (has a `/` or starts with `.` or `~`), so `keys show --local key_12` still reads key_12 as the id.
 */
export function normalizeLocal(args: ReadonlyArray<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--local=')) {
      out.push('--local', `--data-dir=${a.slice('--local='.length)}`);
    } else if (a === '--local' && i + 1 < args.length && looksLikePath(args[i + 1])) {
      out.push('--local', `--data-dir=${args[++i]}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

function looksLikePath(word: string): boolean {
  return !word.startsWith('-') && (word.includes('/') || word.startsWith('.') || word.startsWith('~'));
}

function parseArgsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // parseArgs' messages are good but end with advice about `--` meant for programmers; keep the first sentence.
  return message.split('. To specify')[0].split('\n')[0].replace(/\.$/, '') + '.';
}

export function positionals(parsed: { positionals: string[] }, names: ReadonlyArray<string>, command: string): string[] {
  const got = parsed.positionals;
  if (got.length < names.length) throw new UsageError(`Missing ${names.slice(got.length).map((n) => `<${n}>`).join(' ')}.`, command);
  if (got.length > names.length) throw new UsageError(`Unexpected argument '${got[names.length]}'.`, command);
  return got;
}

export function positiveInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${option} must be a positive whole number, got '${value}'.`);
  }
  return Number(value);
}

export function usdAmount(value: string, option: string): number {
  if (!/^\d+(\.\d{1,6})?$/.test(value)) throw new UsageError(`${option} must be an amount in USD like 100 or 0.25 (at most 6 decimals), got '${value}'.`);
  const usd = Number(value);
  if (usdToMicros(usd) > Number.MAX_SAFE_INTEGER) throw new UsageError(`${option} is too large.`);
  return usd;
}

/** `a,b,c` → ['a','b','c']; '' → [] (so `--models ''` clears a list). */
export function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function oneOf<T extends string>(value: string | undefined, allowed: ReadonlyArray<T>, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as ReadonlyArray<string>).includes(value)) throw new UsageError(`--${option} must be one of ${allowed.join(', ')}; got '${value}'.`);
  return value as T;
}

export function booleanWord(value: string | undefined, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (['true', 'yes', 'on'].includes(value)) return true;
  if (['false', 'no', 'off'].includes(value)) return false;
  throw new UsageError(`--${option} must be true or false, got '${value}'.`);
}

const DURATION_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * An expiry: `2027-01-01` (00:00 UTC that day), an ISO timestamp, or a duration from now (`12h`, `30d`,
 * `8w`). Must lie in the future.
 */
export function expiry(value: string, nowMs: number): number {
  const rel = /^(\d+)([hdw])$/.exec(value);
  let at: number;
  if (rel) {
    at = nowMs + Number(rel[1]) * DURATION_MS[rel[2]];
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    const iso = value.length === 10 ? `${value}T00:00:00Z` : /Z|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`;
    at = Date.parse(iso);
  } else {
    at = NaN;
  }
  if (!Number.isFinite(at)) throw new UsageError(`--expires must be a date (2027-01-01), a timestamp (2027-01-01T12:00Z) or a duration (12h, 30d, 8w); got '${value}'.`);
  if (at <= nowMs) throw new UsageError(`--expires ${value} is not in the future.`);
  return at;
}

export function thresholds(value: string | undefined): number[] | undefined {
  const items = list(value);
  if (items === undefined) return undefined;
  return items.map((t) => {
    const n = Number(t.replace(/%$/, ''));
    if (!Number.isFinite(n) || n <= 0 || n > 1000) throw new UsageError(`--thresholds takes percentages between 0 and 1000, like 50,80,100; got '${t}'.`);
    return n;
  });
}

const BUDGET_SPEC_HELP = '<scope>[=<id>]:<day|month>:<usd>[:hard|soft], e.g. key:month:50:hard or customer:day:5';

/**
 * A key's budget rule from `--budget`: `key:month:50:hard`, `team=search:month:100`, `customer:day:5:soft`.
 * Without `=<id>` the rule applies to the request's own value of that scope (key → this key).
 */
export function budgetSpec(spec: string): BudgetRule {
  const parts = spec.split(':');
  if (parts.length < 3 || parts.length > 4) throw new UsageError(`--budget '${spec}' is not ${BUDGET_SPEC_HELP}.`);
  const [scopePart, period, limit, mode = 'hard'] = parts;
  const [scope, id] = scopePart.split('=', 2);
  if (!(BUDGET_SCOPES as ReadonlyArray<string>).includes(scope)) throw new UsageError(`--budget '${spec}': scope must be one of ${BUDGET_SCOPES.join(', ')}.`);
  if (period !== 'day' && period !== 'month') throw new UsageError(`--budget '${spec}': period must be day or month.`);
  if (mode !== 'hard' && mode !== 'soft') throw new UsageError(`--budget '${spec}': mode must be hard or soft.`);
  if (id !== undefined && id.length === 0) throw new UsageError(`--budget '${spec}': empty id after '='.`);
  return {
    scope: scope as BudgetScope,
    ...(id !== undefined && scope !== 'global' ? { id } : {}),
    period: period as BudgetPeriod,
    limitUsd: usdAmount(limit, `--budget '${spec}'`),
    mode: mode as BudgetMode,
  };
}
