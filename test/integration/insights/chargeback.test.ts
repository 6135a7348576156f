/**
 * Chargeback export on real components: request records in DynamoDB Local (written by the real recorder),
 * exported to a real S3-compatible server on loopback (s3rver) with @aws-sdk/client-s3, read back and
 * checked against hand-computed rows; and the CLI's --out files.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { main } from '../../../lambda/cli/main';
import { previousMonth } from '../../../lambda/core/chargeback';
import type { UsageRecord } from '../../../lambda/core/metering';
import { exportChargebackToS3 } from '../../../lambda/store/chargeback-export';
import { documentClient } from '../../../lambda/store/dynamo';
import { UsageDeriver } from '../../../lambda/store/usage-deriver';
import { UsageReader, UsageRecorder } from '../../../lambda/store/usage-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

const BUCKET = 'tollgate-chargeback';
let n = 0;
function rec(day: string, over: Partial<UsageRecord>): UsageRecord {
  const at = Date.parse(`${day}T08:00:00Z`) + n;
  return {
    requestId: `req_cb_${n++}`, admittedAt: at, endedAt: at + 500, day, keyId: 'key_1', model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0,
    cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costMicros: 0, estimated: false, unpriced: false, status: 'success',
    httpStatus: 200, stream: false, totalMs: 500, attempts: 1, fallback: false, ...over,
  };
}

const client = testDynamoClient();
let tables: TestTables;
let s3dir: string;
let outDir: string;
let server: S3rver;
let s3: S3Client;
let endpoint: string;

beforeAll(async () => {
  tables = await createTestTables(client, 'chargeback');
  const recorder = new UsageRecorder(documentClient(client), tables.ledger, 90);
  for (const r of [
    rec('2026-11-02', { customer: 'acme', team: 'search', feature: 'chat', inputTokens: 1000, outputTokens: 100, costMicros: 210 }),
    rec('2026-11-30', { customer: 'acme', team: 'search', feature: 'chat', inputTokens: 2000, outputTokens: 50, cacheReadTokens: 500, costMicros: 300 }),
    rec('2026-11-15', { customer: 'globex', feature: 'summarize', model: 'claude', inputTokens: 10_000, outputTokens: 1_000, costMicros: 45_000 }),
    rec('2026-11-15', { customer: 'globex', feature: 'summarize', model: 'claude', status: 'upstream_error', httpStatus: 502 }),
    rec('2026-12-01', { customer: 'acme', team: 'search', feature: 'chat', inputTokens: 1, outputTokens: 1, costMicros: 1 }), // next month: not exported
  ]) {
    await recorder.commit(r);
  }
  // Rollups are derived from the records (usage-deriver.ts).
  await new UsageDeriver(documentClient(client), tables.ledger, { globalShards: 1 }).kick();
  s3dir = mkdtempSync(join(tmpdir(), 'tollgate-s3rver-'));
  outDir = mkdtempSync(join(tmpdir(), 'tollgate-export-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: BUCKET }] });
  const address = await server.run();
  endpoint = `http://127.0.0.1:${address.port}`;
  s3 = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  await deleteTestTables(client, tables);
  client.destroy();
  rmSync(s3dir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

const EXPECTED_CSV = [
  'month,customer,team,feature,model,requests,errors,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cost_micros,cost_usd',
  '2026-11,globex,-,summarize,claude,2,1,10000,1000,0,0,45000,0.045000',
  '2026-11,acme,search,chat,gpt-4o-mini,2,0,3000,150,500,0,510,0.000510',
  '',
].join('\n');

async function getText(key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return out.Body!.transformToString();
}

describe('Method: exportChargebackToS3', () => {
  it('writes the month per customer × team × feature × model as CSV and JSON Lines, partitioned by month', async () => {
    const reader = new UsageReader({ client, table: tables.ledger });
    const result = await exportChargebackToS3({ reader, s3, bucket: BUCKET, month: '2026-11' });
    expect(result).toEqual({ rows: 2, keys: ['chargeback/format=csv/month=2026-11/usage.csv', 'chargeback/format=jsonl/month=2026-11/usage.jsonl'] });
    expect(await getText(result.keys[0])).toBe(EXPECTED_CSV);
    const lines = (await getText(result.keys[1])).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[1]).toEqual({
      month: '2026-11', customer: 'acme', team: 'search', feature: 'chat', model: 'gpt-4o-mini', requests: 2, errors: 0, input_tokens: 3000,
      output_tokens: 150, cache_read_tokens: 500, cache_write_tokens: 0, cost_micros: 510, cost_usd: '0.000510',
    });
  });

  it('is what the monthly schedule exports on the 1st: the previous month', () => {
    expect(previousMonth(Date.UTC(2026, 11, 1, 2))).toBe('2026-11');
    expect(previousMonth(Date.UTC(2027, 0, 1, 2))).toBe('2026-12');
  });
});

describe('Command: export', () => {
  const target = () => ['--endpoint', String(process.env.TOLLGATE_TEST_DYNAMODB_ENDPOINT), '--keys-table', tables.keys, '--ledger-table', tables.ledger, '--region', 'us-east-1'];
  const run = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) }, env: {} });
    return { code, stdout, stderr };
  };

  it('writes the same files under --out', async () => {
    const r = await run(['export', '--period', '2026-11', '--out', outDir, ...target()]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(outDir, 'chargeback/format=csv/month=2026-11/usage.csv'), 'utf8')).toBe(EXPECTED_CSV);
    expect(r.stderr).toContain('2 rows for 2026-11');
  });

  it('needs exactly one destination and a month', async () => {
    expect((await run(['export', ...target()])).code).toBe(2);
    expect((await run(['export', '--period', '2026-11-02', '--out', outDir, ...target()])).stderr).toMatch(/--period must be a month/);
  });
});
