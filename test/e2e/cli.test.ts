/**
 * The admin CLI end to end: `node bin/tollgate.cjs ...` as a subprocess against the local store. The test
 * process owns the store (dynalite on a temp data folder) and the CLI attaches through endpoint.json, the
 * way it attaches to a running `npm start`; the gatekeeper runs in-process on the same tables.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { periodKey } from '../../lambda/core/budgets';
import { parseConfig } from '../../lambda/core/config';
import { GatewayError } from '../../lambda/core/errors';
import type { AdmissionRequest, RequestOutcome } from '../../lambda/core/gatekeeper';
import { costMicros, priceFor } from '../../lambda/core/pricing';
import { openLocalStore, type LocalStore } from '../../lambda/local/embedded-dynamo';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../lambda/store/dynamo-gatekeeper';
import { budgetCounterKey } from '../../lambda/store/item-keys';
import { hashApiKey, KeyStore } from '../../lambda/store/key-store';
import { createTestTables, deleteTestTables, ENDPOINT_ENV, testDynamoClient } from '../support/dynamodb-local';

const REPO = join(__dirname, '..', '..');
const BIN = join(REPO, 'bin', 'tollgate.cjs');
/** 2026-11-25T10:30:15Z: requests are admitted in the 2026-11 month. */
const T0 = Date.UTC(2026, 10, 25, 10, 30, 15);

const config = parseConfig({
  providers: { openai: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' } },
  models: { 'gpt-4o-mini': { maxOutputTokens: 1000, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  metering: { keyCacheSeconds: 0 },
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let dataDir: string;
let store: LocalStore;
let gate: DynamoGatekeeper;
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  tempDirs.push(dir);
  return dir;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO, env: { ...process.env, TOLLGATE_DATA_DIR: dataDir, TOLLGATE_DEBUG: '', ...env }, timeout: 90_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await cli(args, env);
  if (r.code !== 0) throw new Error(`tollgate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function admission(apiKey: string, opts: { feature?: string; requestId?: string } = {}): AdmissionRequest {
  const headers = new Headers({ authorization: `Bearer ${apiKey}` });
  if (opts.feature) headers.set('x-tollgate-feature', opts.feature);
  const modelConfig = config.models['gpt-4o-mini'];
  return {
    requestId: opts.requestId ?? `req_${Math.random().toString(36).slice(2, 12)}`,
    headers,
    request: {},
    estimate: { inputTokens: 8, maxOutputTokens: 100, n: 1 },
    model: 'gpt-4o-mini',
    modelConfig,
    targets: modelConfig.targets,
    now: T0,
  };
}

function success(inputTokens: number, outputTokens: number): RequestOutcome {
  return {
    status: 'success',
    httpStatus: 200,
    stream: false,
    provider: 'openai',
    upstreamModel: 'gpt-4o-mini',
    usage: { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    usageEstimated: false,
    totalMs: 100,
    attempts: 1,
    fallback: false,
    endedAt: T0 + 1_000,
  };
}

async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Every byte under a folder, for "the secret is not on disk" checks. */
function filesUnder(dir: string): Buffer[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [readFileSync(path)];
  });
}

async function createKey(args: string[]): Promise<{ apiKey: string; keyId: string }> {
  const out = JSON.parse(await ok(['keys', 'create', '--json', ...args])) as { apiKey: string; key: { keyId: string } };
  return { apiKey: out.apiKey, keyId: out.key.keyId };
}

beforeAll(async () => {
  dataDir = tempDir();
  store = await openLocalStore({ dataDir });
  gate = createDynamoGatekeeper({ client: store.client, tables: store.tables, config, now: () => T0, estimateInputTokens: () => 10 });
});

afterAll(async () => {
  await store.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => gate.clearCaches());

describe('Command: keys', () => {
  it('creates a key whose printed secret authenticates, and never writes the secret to the data folder', async () => {
    const out = await ok(['keys', 'create', '--name', 'search-prod', '--team', 'search', '--feature', 'search', '--models', 'gpt-4o-mini', '--rpm', '100']);
    const apiKey = /\b(tg_[A-Za-z0-9_-]{20,})\b/.exec(out)?.[1];
    expect(apiKey).toBeDefined();
    expect(out).toMatch(/shown only this once/);
    expect(out.split(apiKey as string)).toHaveLength(2); // printed exactly once

    const key = await gate.keys.findBySecret(apiKey as string);
    expect(key).toMatchObject({ name: 'search-prod', team: 'search', defaultFeature: 'search', allowedModels: ['gpt-4o-mini'], rateLimits: { rpm: 100 }, status: 'active' });
    const admitted = await gate.admit(admission(apiKey as string));
    expect(admitted.attribution).toMatchObject({ keyId: key?.keyId, team: 'search', feature: 'search' });
    await admitted.settle(success(5, 5));

    for (const bytes of filesUnder(dataDir)) expect(bytes.includes(apiKey as string)).toBe(false);
  }, 120_000);

  it('lists keys with id, prefix, name, team, status, expiry and limits, never the hash', async () => {
    const { apiKey, keyId } = await createKey(['--name', 'billing-batch', '--team', 'billing', '--expires', '2099-01-01', '--tpm', '5000', '--budget', 'key:month:50:hard']);
    const table = await ok(['keys', 'list', '--team', 'billing']);
    const [header, , row] = table.trim().split('\n');
    expect(header).toMatch(/^ID\s+PREFIX\s+NAME\s+TEAM\s+STATUS\s+EXPIRES\s+LIMITS\s+BUDGETS$/);
    expect(row).toContain(keyId);
    expect(row).toContain(`${apiKey.slice(0, 8)}…`);
    expect(row).toMatch(/billing-batch\s+billing\s+active\s+2099-01-01\s+5000 tpm\s+key:self:month \$50\.00 hard/);
    expect(table).not.toContain(hashApiKey(apiKey));
    expect(table).not.toContain(apiKey);

    const json = JSON.parse(await ok(['keys', 'list', '--json'])) as Array<Record<string, unknown>>;
    expect(json.map((k) => k.keyId)).toContain(keyId);
    expect(JSON.stringify(json)).not.toContain(hashApiKey(apiKey));
  }, 120_000);

  it('shows, updates and revokes a key; a revoked key no longer authenticates', async () => {
    const { apiKey, keyId } = await createKey(['--name', 'temp', '--team', 'ops', '--rpm', '10', '--tpm', '1000', '--models', 'gpt-4o-mini', '--budget', 'key:day:3', '--log-content']);
    expect(await ok(['keys', 'show', keyId])).toMatch(/rate limits\s+10 rpm, 1000 tpm/);

    // Fields not named keep their values (models, budgets, log content).
    const updated = JSON.parse(await ok(['keys', 'update', keyId, '--rpm', '20', '--name', 'temp-2', '--json'])) as Record<string, unknown>;
    expect(updated).toMatchObject({ name: 'temp-2', rateLimits: { rpm: 20, tpm: 1000 }, allowedModels: ['gpt-4o-mini'], budgets: [{ scope: 'key', period: 'day', limitUsd: 3 }], logContent: true });
    await ok(['limits', 'set', '--key', keyId, '--tpm', '2000']);
    expect(await gate.keys.get(keyId)).toMatchObject({ name: 'temp-2', rateLimits: { rpm: 20, tpm: 2000 }, allowedModels: ['gpt-4o-mini'], logContent: true });

    expect(await ok(['keys', 'revoke', keyId])).toContain(`Revoked ${keyId}`);
    expect(await ok(['keys', 'list', '--team', 'ops'])).toContain('No active keys for team ops');
    expect(await ok(['keys', 'list', '--team', 'ops', '--all'])).toMatch(new RegExp(`${keyId}.*revoked`));
    const err = await rejection(gate.admit(admission(apiKey)));
    expect(err.status).toBe(401);
  }, 120_000);

  it('reports an unknown key id with exit code 1', async () => {
    const r = await cli(['keys', 'revoke', 'key_doesnotexist']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No API key with id 'key_doesnotexist'");
  }, 60_000);
});

describe('Command: budgets and limits', () => {
  it('sets a feature budget the gatekeeper enforces, and lists it', async () => {
    const { apiKey } = await createKey(['--name', 'budgeted', '--team', 'lab']);
    expect(await ok(['budgets', 'set', '--scope', 'feature', '--id', 'tiny', '--period', 'month', '--limit-usd', '0', '--mode', 'hard', '--thresholds', '50,80,100'])).toContain(
      'Budget feature:tiny:month: $0.00 hard',
    );
    expect(await gate.keys.getPolicy('feature', 'tiny')).toMatchObject({ budgets: [{ scope: 'feature', id: 'tiny', period: 'month', limitUsd: 0, mode: 'hard', thresholdsPercent: [50, 80, 100] }] });

    const err = await rejection(gate.admit(admission(apiKey, { feature: 'tiny' })));
    expect(err.status).toBe(429);
    expect(err.message).toContain('feature:tiny:month');

    const list = await ok(['budgets', 'list', '--scope', 'feature']);
    expect(list).toMatch(/feature:tiny:month\s+feature policy\s+hard\s+0\.00\s+\d{4}-\d{2}\s+0\.000000\s+0\.000000\s+-\s+50%,80%,100%/);
  }, 120_000);

  it('names the spend the sweeper charged for a dead process’s admission leases, apart from recorded spend', async () => {
    await ok(['budgets', 'set', '--scope', 'team', '--id', 'reclaimtest', '--period', 'month', '--limit-usd', '10', '--mode', 'hard']);
    await ok(['budgets', 'set', '--scope', 'team', '--id', 'cleanteam', '--period', 'month', '--limit-usd', '10', '--mode', 'hard']);
    // What the sweeper leaves on a counter after reclaiming a lease (lambda/store/admission-leases.ts).
    await store.client.send(
      new UpdateItemCommand({
        TableName: store.tables.ledger,
        Key: marshall(budgetCounterKey('team', 'reclaimtest', periodKey('month', Date.now()))),
        UpdateExpression: 'ADD spent :spent, committed :spent, reclaimed :reclaimed',
        ExpressionAttributeValues: marshall({ ':spent': 300_000, ':reclaimed': 250_000 }),
      }),
    );
    const [row] = JSON.parse(await ok(['budgets', 'list', '--scope', 'team', '--json'])).filter((r: { id?: string }) => r.id === 'reclaimtest');
    expect(row).toMatchObject({ spentMicros: 300_000, reclaimedMicros: 250_000 });
    const table = await ok(['budgets', 'list', '--scope', 'team']);
    expect(table).toContain('team:reclaimtest:month: 0.250000 of SPENT_USD was charged for admission leases whose holder stopped');
    // A budget with nothing reclaimed gets no such line.
    expect(table).toMatch(/team:cleanteam:month/);
    expect(table.match(/was charged for admission leases/g)).toHaveLength(1);
  }, 120_000);

  it('keeps a team budget when the team rate limit is set, and the other way round', async () => {
    await ok(['budgets', 'set', '--scope', 'team', '--id', 'search', '--limit-usd', '100']);
    await ok(['limits', 'set', '--team', 'search', '--rpm', '600']);
    await ok(['limits', 'set', '--team', 'search', '--tpm', '400000']);
    await ok(['budgets', 'set', '--scope', 'team', '--id', 'search', '--period', 'day', '--limit-usd', '5', '--mode', 'soft']);
    expect(await gate.keys.getPolicy('team', 'search')).toMatchObject({
      rateLimits: { rpm: 600, tpm: 400000 },
      budgets: [
        { period: 'month', limitUsd: 100, mode: 'hard' },
        { period: 'day', limitUsd: 5, mode: 'soft' },
      ],
    });
    expect(await ok(['limits', 'list'])).toMatch(/team\s+search\s+-\s+600\s+400000/);

    await ok(['budgets', 'remove', '--scope', 'team', '--id', 'search', '--period', 'day']);
    expect((await gate.keys.getPolicy('team', 'search'))?.budgets).toHaveLength(1);
  }, 180_000);
});

describe('Command: usage', () => {
  it('reports cost, tokens and requests by feature as CSV and JSON, most expensive first', async () => {
    const { apiKey } = await createKey(['--name', 'usage-key', '--team', 'analytics', '--environment', 'prod']);
    const calls: Array<{ feature: string; input: number; output: number }> = [
      { feature: 'report-summary', input: 1_200, output: 300 },
      { feature: 'report-summary', input: 800, output: 100 },
      { feature: 'report-chat', input: 100_000, output: 20_000 },
    ];
    for (const c of calls) {
      const a = await gate.admit(admission(apiKey, { feature: c.feature }));
      await a.settle(success(c.input, c.output));
    }
    const price = priceFor(config, 'openai', 'gpt-4o-mini');
    if (!price) throw new Error('gpt-4o-mini has no default price');
    const cost = (input: number, output: number) => costMicros({ inputTokens: input, outputTokens: output, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, price);
    const summaryMicros = cost(1_200, 300) + cost(800, 100);
    const chatMicros = cost(100_000, 20_000);
    const usd = (m: number) => `${Math.floor(m / 1e6)}.${String(m % 1e6).padStart(6, '0')}`;

    const csv = (await ok(['usage', '--by', 'feature', '--period', '2026-11', '--format', 'csv'])).trim().split('\n');
    expect(csv[0]).toBe('feature,cost_usd,requests,errors,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens');
    const rows = csv.slice(1).filter((l) => l.startsWith('report-'));
    expect(rows).toEqual([`report-chat,${usd(chatMicros)},1,0,100000,20000,0,0`, `report-summary,${usd(summaryMicros)},2,0,2000,400,0,0`]);

    const json = JSON.parse(await ok(['usage', '--by', 'feature', '--period', '2026-11-25', '--format', 'json'])) as {
      dimension: string;
      period: string;
      rows: Array<{ value: string; costMicros: number; costUsd: number; requests: number; inputTokens: number; outputTokens: number }>;
      total: { costMicros: number; requests: number };
    };
    expect(json).toMatchObject({ dimension: 'feature', period: '2026-11-25' });
    expect(json.rows.find((r) => r.value === 'report-summary')).toMatchObject({ costMicros: summaryMicros, costUsd: Number(usd(summaryMicros)), requests: 2, inputTokens: 2000, outputTokens: 400 });
    const costs = json.rows.map((r) => r.costMicros);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(json.total.costMicros).toBe(costs.reduce((a, b) => a + b, 0));
    expect(json.total.requests).toBe(json.rows.reduce((a, r) => a + r.requests, 0));

    const table = await ok(['usage', '--by', 'environment', '--period', '2026-11']);
    expect(table).toMatch(new RegExp(`prod\\s+${usd(summaryMicros + chatMicros).replace('.', '\\.')}\\s+3\\s+0\\s+102000\\s+20400`));
    expect(table).toMatch(/^TOTAL\s/m);

    const empty = await ok(['usage', '--by', 'feature', '--period', '2026-10', '--format', 'csv']);
    expect(empty.trim().split('\n')).toHaveLength(1);
  }, 180_000);
});

describe('Bad input', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown command', ['keyz', 'list'], /Unknown command 'keyz'/],
    ['an unknown subcommand', ['keys', 'delete', 'key_1'], /Unknown command 'tollgate keys delete'/],
    ['an unknown option', ['keys', 'list', '--teem', 'x'], /Unknown option '--teem'/],
    ['a missing --name', ['keys', 'create'], /--name is required/],
    ['a past expiry', ['keys', 'create', '--name', 'x', '--expires', '2001-01-01'], /not in the future/],
    ['a malformed --rpm', ['keys', 'create', '--name', 'x', '--rpm', 'ten'], /--rpm must be a positive whole number/],
    ['a malformed --budget', ['keys', 'create', '--name', 'x', '--budget', 'key:week:5'], /period must be day or month/],
    ['an invalid team id', ['keys', 'create', '--name', 'x', '--team', 'a#b'], /invalid input: team: ids are 1-128/],
    ['a missing key id', ['keys', 'show'], /Missing <key-id>/],
    ['an unknown dimension', ['usage', '--by', 'colour'], /--by must be one of key, team, customer, feature, model, environment/],
    ['a malformed period', ['usage', '--by', 'team', '--period', 'November'], /--period must be a month/],
    ['an unknown format', ['usage', '--by', 'team', '--format', 'xml'], /--format must be one of table, csv, json/],
    ['rate limits on a feature', ['limits', 'set', '--feature', 'search', '--rpm', '5'], /Rate limits apply per key/],
    ['a budget without a limit', ['budgets', 'set', '--scope', 'team', '--id', 'search'], /--limit-usd is required/],
    ['conflicting targets', ['keys', 'list', '--local', '--stack', 'tollgate'], /cannot be combined/],
  ];

  // One test, cases four at a time: each case is a process start, and they share nothing.
  it('exits 2 with a message on stderr and no stack trace, for each kind of bad input', async () => {
    const results: Array<CliResult & { what: string }> = [];
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...(await Promise.all(cases.slice(i, i + 4).map(async ([what, args]) => ({ what, ...(await cli(args)) })))));
    }
    const summary = results.map((r, i) => ({
      what: r.what,
      code: r.code,
      message: cases[i][2].test(r.stderr) ? 'as expected' : r.stderr,
      stackTrace: /\n\s+at /.test(r.stderr),
      stdout: r.stdout,
    }));
    expect(summary).toEqual(cases.map(([what]) => ({ what, code: 2, message: 'as expected', stackTrace: false, stdout: '' })));
  }, 180_000);

  it('prints help with exit 0', async () => {
    const r = await cli(['keys', 'create', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tollgate keys create --name <name>');
    expect(r.stdout).toContain('--stack <name>');
  }, 60_000);
});

describe('Targets', () => {
  it('opens the data folder itself when no server runs, and the data survives for the next process', async () => {
    const own = tempDir();
    const env = { TOLLGATE_DATA_DIR: own };
    const created = JSON.parse(await ok(['keys', 'create', '--name', 'standalone', '--json'], env)) as { apiKey: string; key: { keyId: string } };
    expect(await ok(['keys', 'list'], env)).toContain(created.key.keyId);

    for (const bytes of filesUnder(own)) expect(bytes.includes(created.apiKey)).toBe(false);
    const opened = await openLocalStore({ dataDir: own });
    try {
      const g = createDynamoGatekeeper({ client: opened.client, tables: opened.tables, config });
      expect((await g.keys.findBySecret(created.apiKey))?.keyId).toBe(created.key.keyId);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('talks to a DynamoDB endpoint given with --endpoint', async () => {
    const local = testDynamoClient();
    const tables = await createTestTables(local, 'cli-endpoint');
    try {
      await new KeyStore({ client: local, table: tables.keys }).create({ name: 'on-dynamodb-local' });
      const out = await ok(['keys', 'list', '--all', '--json', '--endpoint', process.env[ENDPOINT_ENV]!, '--keys-table', tables.keys, '--ledger-table', tables.ledger], { TOLLGATE_DATA_DIR: join(tempDir(), 'unused') });
      expect((JSON.parse(out) as Array<{ name: string }>).map((k) => k.name)).toEqual(['on-dynamodb-local']);
    } finally {
      await deleteTestTables(local, tables);
      local.destroy();
    }
  }, 60_000);

  it('cannot reach the embedded store through --endpoint: it takes only its per-start credentials (use the data folder)', async () => {
    const r = await cli(['keys', 'list', '--all', '--json', '--endpoint', store.endpoint], { TOLLGATE_DATA_DIR: join(tempDir(), 'unused') });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('search-prod');
  }, 60_000);
});
