/**
 * The chargeback export: a month's request records (one Query per day, paginated) aggregated per customer
 * × team × feature × model, written as CSV and JSON Lines to S3 (the stack's chargeback bucket) or handed
 * back for local files. Records are the ledger's source of truth; they live `metering.requestRecordTtlDays`
 * (90 by default), so a month can be exported (again) for about two months after it ends.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addToChargeback, chargebackKeys, daysOf, sortedRows, toCsv, toJsonLines, type ChargebackRow } from '../core/chargeback';
import type { UsageReader } from './usage-store';

export async function chargebackRows(reader: Pick<UsageReader, 'requests'>, month: string): Promise<ChargebackRow[]> {
  const rows = new Map<string, ChargebackRow>();
  for (const day of daysOf(month)) addToChargeback(rows, month, await reader.requests(day));
  return sortedRows(rows);
}

export async function exportChargebackToS3(deps: { reader: Pick<UsageReader, 'requests'>; s3: S3Client; bucket: string; month: string }): Promise<{ rows: number; keys: string[] }> {
  const rows = await chargebackRows(deps.reader, deps.month);
  const keys = chargebackKeys(deps.month);
  await Promise.all([
    deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: keys.csv, Body: toCsv(rows), ContentType: 'text/csv; charset=utf-8' })),
    deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: keys.jsonl, Body: toJsonLines(rows), ContentType: 'application/x-ndjson' })),
  ]);
  return { rows: rows.length, keys: [keys.csv, keys.jsonl] };
}
