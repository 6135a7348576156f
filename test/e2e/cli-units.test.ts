/**
 * The admin CLI's pure parts, in-process and without network: target selection (including `--stack`
 * outputs → table names with an injected outputs reader), argument parsers and output formats.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { budgetSpec, expiry, normalizeLocal, UsageError } from '../../lambda/cli/args';
import { renderCsv, renderTable, usdFromMicros } from '../../lambda/cli/format';
import { main } from '../../lambda/cli/main';
import { openTarget, selectTarget, tablesFromStackOutputs, type StackOutputsReader } from '../../lambda/cli/target';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) } };
}

describe('Function: tablesFromStackOutputs', () => {
  it('maps the KeysTableName and LedgerTableName outputs to the two tables', () => {
    const outputs = { ApiUrl: 'https://x.execute-api/v1', KeysTableName: 'Tollgate-KeysTable1A2B', LedgerTableName: 'Tollgate-LedgerTable3C4D' };
    expect(tablesFromStackOutputs('Tollgate', outputs)).toEqual({ keys: 'Tollgate-KeysTable1A2B', ledger: 'Tollgate-LedgerTable3C4D' });
  });

  it('names the missing output and the outputs it found when the stack is not a Tollgate stack', () => {
    expect(() => tablesFromStackOutputs('Other', { ApiUrl: 'u', KeysTableName: 'k' })).toThrow(/Stack 'Other' has no output LedgerTableName.*Outputs found: ApiUrl, KeysTableName/);
  });
});

describe('Function: openTarget', () => {
  it('reads the stack outputs through the injected reader, with the stack name and region', async () => {
    const calls: Array<[string, string | undefined]> = [];
    const reader: StackOutputsReader = async (stack, region) => {
      calls.push([stack, region]);
      return { KeysTableName: 'k-table', LedgerTableName: 'l-table' };
    };
    const store = await openTarget({ kind: 'stack', stack: 'Tollgate', region: 'eu-west-1' }, { stackOutputs: reader });
    try {
      expect(calls).toEqual([['Tollgate', 'eu-west-1']]);
      expect(store.tables).toEqual({ keys: 'k-table', ledger: 'l-table' });
      expect(await store.client.config.region()).toBe('eu-west-1');
      expect(store.description).toBe('stack Tollgate');
    } finally {
      await store.close();
    }
  });

  it('gives an explicit endpoint dummy credentials, never the default chain', async () => {
    const store = await openTarget({ kind: 'tables', tables: { keys: 'a', ledger: 'b' }, endpoint: 'http://127.0.0.1:8000' });
    try {
      const creds = await store.client.config.credentials();
      expect(creds.accessKeyId).toBe('local');
    } finally {
      await store.close();
    }
  });
});

describe('Function: main with --stack', () => {
  it('exits 2 with the reader’s explanation when the stack lacks the table outputs', async () => {
    const { out, io } = capture();
    const code = await main(['keys', 'list', '--stack', 'NotTollgate', '--region', 'us-east-1'], { io, env: {}, now: () => NOW, stackOutputs: async () => ({ ApiUrl: 'u' }) });
    expect(code).toBe(2);
    expect(out.stderr).toContain("Stack 'NotTollgate' has no output KeysTableName or LedgerTableName");
  });
});

describe('Function: selectTarget', () => {
  it('defaults to the local data folder, TOLLGATE_DATA_DIR first', () => {
    expect(selectTarget({}, '/srv/tg')).toEqual({ kind: 'local', dataDir: '/srv/tg' });
    expect(selectTarget({}, undefined)).toMatchObject({ kind: 'local', dataDir: expect.stringMatching(/\.tollgate-data$/) });
    expect(selectTarget({ local: true, 'data-dir': '/data' }, '/srv/tg')).toEqual({ kind: 'local', dataDir: '/data' });
  });

  it('selects a stack, explicit tables, or an endpoint with the local table names', () => {
    expect(selectTarget({ stack: 'Tollgate', region: 'eu-west-1' }, undefined)).toEqual({ kind: 'stack', stack: 'Tollgate', region: 'eu-west-1' });
    expect(selectTarget({ 'keys-table': 'k', 'ledger-table': 'l' }, undefined)).toEqual({ kind: 'tables', tables: { keys: 'k', ledger: 'l' } });
    expect(selectTarget({ endpoint: 'http://127.0.0.1:8000' }, undefined)).toEqual({
      kind: 'tables',
      tables: { keys: 'tollgate-keys', ledger: 'tollgate-ledger' },
      endpoint: 'http://127.0.0.1:8000',
    });
  });

  it('refuses ambiguous or incomplete targets', () => {
    expect(() => selectTarget({ local: true, stack: 's' }, undefined)).toThrow(UsageError);
    expect(() => selectTarget({ stack: 's', 'keys-table': 'k' }, undefined)).toThrow(/drop --keys-table/);
    expect(() => selectTarget({ 'keys-table': 'k' }, undefined)).toThrow(/go together/);
    expect(() => selectTarget({ region: 'eu-west-1' }, undefined)).toThrow(/--region needs an AWS target/);
  });
});

describe('Function: normalizeLocal', () => {
  it('reads --local=<dir> and --local <path>, but not --local <id>', () => {
    expect(normalizeLocal(['--local=/d', 'x'])).toEqual(['--local', '--data-dir=/d', 'x']);
    expect(normalizeLocal(['--local', './data', 'key_1'])).toEqual(['--local', '--data-dir=./data', 'key_1']);
    expect(normalizeLocal(['--local', 'key_1'])).toEqual(['--local', 'key_1']);
  });
});

describe('Function: expiry', () => {
  it('accepts dates (00:00 UTC), timestamps and durations in the future', () => {
    expect(expiry('2027-01-01', NOW)).toBe(Date.UTC(2027, 0, 1));
    expect(expiry('2027-01-01T12:30Z', NOW)).toBe(Date.UTC(2027, 0, 1, 12, 30));
    expect(expiry('30d', NOW)).toBe(NOW + 30 * 86_400_000);
    expect(expiry('12h', NOW)).toBe(NOW + 12 * 3_600_000);
  });

  it('rejects the past and nonsense', () => {
    expect(() => expiry('2026-01-01', NOW)).toThrow(/not in the future/);
    expect(() => expiry('soon', NOW)).toThrow(/--expires must be/);
    expect(() => expiry('2027-13-45', NOW)).toThrow(/--expires must be/);
  });
});

describe('Function: budgetSpec', () => {
  it('parses scope, optional id, period, USD and mode (hard by default)', () => {
    expect(budgetSpec('key:month:50:hard')).toEqual({ scope: 'key', period: 'month', limitUsd: 50, mode: 'hard' });
    expect(budgetSpec('team=search:day:2.5')).toEqual({ scope: 'team', id: 'search', period: 'day', limitUsd: 2.5, mode: 'hard' });
    expect(budgetSpec('customer:day:5:soft')).toEqual({ scope: 'customer', period: 'day', limitUsd: 5, mode: 'soft' });
  });

  it('rejects malformed specs with the expected format', () => {
    expect(() => budgetSpec('key:50')).toThrow(/<scope>\[=<id>\]:<day\|month>:<usd>/);
    expect(() => budgetSpec('org:month:5')).toThrow(/scope must be one of/);
    expect(() => budgetSpec('key:month:-5')).toThrow(/amount in USD/);
    expect(() => budgetSpec('key:month:5:strict')).toThrow(/hard or soft/);
  });
});

describe('Function: output formats', () => {
  it('prints micro-dollars as exact 6-decimal USD', () => {
    expect(usdFromMicros(0)).toBe('0.000000');
    expect(usdFromMicros(1)).toBe('0.000001');
    expect(usdFromMicros(123_456_789)).toBe('123.456789');
    expect(usdFromMicros(9_007_199_254_740_991)).toBe('9007199254.740991');
  });

  it('quotes CSV fields that need it', () => {
    expect(renderCsv(['a', 'b'], [['x,y', 'say "hi"'], ['plain', 3]])).toBe('a,b\n"x,y","say ""hi"""\nplain,3\n');
  });

  it('aligns table columns, numbers to the right', () => {
    expect(renderTable([{ header: 'NAME' }, { header: 'N', right: true }], [['a', 1], ['bbbbb', 100]])).toBe('NAME     N\n-----  ---\na        1\nbbbbb  100\n');
  });
});

describe('Boundary: the Lambda code', () => {
  function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
    });
  }

  it('never imports the CLI (it stays out of the Lambda bundle)', () => {
    const lambda = join(__dirname, '..', '..', 'lambda');
    const offenders = readdirSync(lambda)
      .filter((d) => d !== 'cli' && statSync(join(lambda, d)).isDirectory())
      .flatMap((d) => sources(join(lambda, d)))
      .filter((file) => /from '(\.\.?\/)+cli\//.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
