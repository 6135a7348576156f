/** `tollgate export`: the chargeback files of a month, to a folder or to the stack's S3 bucket. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parsePeriodKey, periodKey } from '../../core/budgets';
import { chargebackKeys, toCsv, toJsonLines } from '../../core/chargeback';
import { chargebackRows, exportChargebackToS3 } from '../../store/chargeback-export';
import { positionals, UsageError } from '../args';
import { defineCommand } from '../command';
import { usageReader } from '../stores';

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'chargeback: a month of usage per customer, team, feature and model as CSV and JSON Lines',
  help: `Usage: tollgate export [--period <yyyy-mm>] (--out <dir> | --bucket <name> [--s3-endpoint <url>])

Usage of a UTC month (default: the current one, so far) per customer × team × feature × model: requests,
errors, tokens and exact cost, from the request records. Writes chargeback/format=csv/month=<m>/usage.csv
and chargeback/format=jsonl/month=<m>/usage.jsonl under --out, or to the S3 bucket --bucket (the stack's
output ChargebackBucketName; the stack also exports the previous month there on the 1st of each month).
The Athena table over the bucket is in docs/chargeback.md.

  --period <month>              2026-11; default: the current month
  --out <dir>                   write the two files under this folder
  --bucket <name>               write them to this S3 bucket (your AWS credentials)
  --s3-endpoint <url>           an S3-compatible endpoint instead of AWS (MinIO, s3rver)`,
  options: { period: { type: 'string' }, out: { type: 'string' }, bucket: { type: 'string' }, 's3-endpoint': { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'export');
    const month = v.period ?? periodKey('month', ctx.now());
    if (parsePeriodKey(month) !== 'month') throw new UsageError(`--period must be a month like 2026-11; got '${month}'.`, 'export');
    if ((v.out === undefined) === (v.bucket === undefined)) throw new UsageError('Name exactly one destination: --out <dir> or --bucket <name>.', 'export');
    const reader = await usageReader(ctx);
    if (v.out !== undefined) {
      const rows = await chargebackRows(reader, month);
      const keys = chargebackKeys(month);
      for (const [key, body] of [[keys.csv, toCsv(rows)], [keys.jsonl, toJsonLines(rows)]] as const) {
        const path = join(resolve(v.out), key);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, body);
        ctx.io.stdout(`${path}\n`);
      }
      ctx.io.stderr(`${rows.length} rows for ${month}.\n`);
      return;
    }
    const { S3Client } = await import('@aws-sdk/client-s3');
    const endpoint = v['s3-endpoint'];
    const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true, region: 'us-east-1' } : {});
    try {
      const result = await exportChargebackToS3({ reader, s3, bucket: v.bucket as string, month });
      for (const key of result.keys) ctx.io.stdout(`s3://${v.bucket}/${key}\n`);
      ctx.io.stderr(`${result.rows} rows for ${month}.\n`);
    } finally {
      s3.destroy();
    }
  },
});
