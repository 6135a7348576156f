/**
 * Scheduled (the 1st of each month): exports the previous month's usage per customer × team × feature ×
 * model as CSV and JSON Lines to the chargeback bucket (store/chargeback-export.ts).
 * Env: TOLLGATE_LEDGER_TABLE, TOLLGATE_CHARGEBACK_BUCKET.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { previousMonth } from '../core/chargeback';
import { exportChargebackToS3 } from '../store/chargeback-export';
import { UsageReader } from '../store/usage-store';

const client = new DynamoDBClient({});
const s3 = new S3Client({});

export async function handler(event: { month?: string } = {}): Promise<{ rows: number; keys: string[] }> {
  const table = process.env.TOLLGATE_LEDGER_TABLE;
  const bucket = process.env.TOLLGATE_CHARGEBACK_BUCKET;
  if (!table || !bucket) throw new Error('TOLLGATE_LEDGER_TABLE and TOLLGATE_CHARGEBACK_BUCKET must be set');
  const month = event.month && /^\d{4}-\d{2}$/.test(event.month) ? event.month : previousMonth(Date.now());
  const result = await exportChargebackToS3({ reader: new UsageReader({ client, table }), s3, bucket, month });
  console.log(JSON.stringify({ level: 'INFO', message: 'chargeback exported', month, ...result }));
  return result;
}
