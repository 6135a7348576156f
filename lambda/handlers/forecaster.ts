/**
 * Scheduled (hourly): forecasts every budget's period-end spend and publishes "will be exhausted on
 * <date>" to the alert topic once per budget and period (store/forecast-alerts.ts).
 * Env: TOLLGATE_KEYS_TABLE, TOLLGATE_LEDGER_TABLE, TOLLGATE_ALERT_TOPIC_ARN.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { forecastRunner } from '../store/forecast-alerts';
import { SnsAlertSink } from '../store/sns-alert-sink';
import { bakedConfig } from './lambda-runtime';

const client = new DynamoDBClient({});
const sns = new SNSClient({});

export async function handler(): Promise<{ budgets: number; alerted: string[] }> {
  const env = process.env;
  const [keysTable, ledgerTable, topicArn] = [env.TOLLGATE_KEYS_TABLE, env.TOLLGATE_LEDGER_TABLE, env.TOLLGATE_ALERT_TOPIC_ARN];
  if (!keysTable || !ledgerTable || !topicArn) throw new Error('TOLLGATE_KEYS_TABLE, TOLLGATE_LEDGER_TABLE and TOLLGATE_ALERT_TOPIC_ARN must be set');
  const config = bakedConfig(env);
  const run = forecastRunner({
    client,
    tables: { keys: keysTable, ledger: ledgerTable },
    globalShards: config.metering.globalBudgetShards,
    sink: new SnsAlertSink({ client: sns, topicArn }),
  });
  const result = await run(Date.now());
  console.log(JSON.stringify({ level: 'INFO', message: 'budget forecasts', ...result }));
  return result;
}
