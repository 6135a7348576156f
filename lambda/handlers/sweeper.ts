/**
 * Scheduled (e.g. every 5 minutes): releases budget reservations whose lease expired because the Lambda
 * that made them timed out or crashed before settling. Env: TOLLGATE_LEDGER_TABLE.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoBudgetLedger } from '../store/budget-ledger';
import { documentClient } from '../store/dynamo';

const client = new DynamoDBClient({});

export async function handler(): Promise<{ leases: number; released: number }> {
  const table = process.env.TOLLGATE_LEDGER_TABLE;
  if (!table) throw new Error('TOLLGATE_LEDGER_TABLE is not set');
  // The sweeper reads shard keys from each lease, so it needs no shard count.
  const ledger = new DynamoBudgetLedger(documentClient(client), table, { globalShards: 1 });
  const result = await ledger.sweepExpiredReservations(Date.now());
  console.log(JSON.stringify({ level: 'INFO', message: 'swept expired reservations', ...result }));
  return result;
}
