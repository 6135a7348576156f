/**
 * The gatekeeper of the store-only functions (sweeper, settlement outbox consumer), built once per
 * container from the environment and the config baked into the bundle: no providers, no HTTP app.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../store/dynamo-gatekeeper';
import { bakedConfig, type LambdaEnv } from './lambda-runtime';

let gate: DynamoGatekeeper | undefined;

export function storeGatekeeper(env: LambdaEnv = process.env, client?: DynamoDBClient): DynamoGatekeeper {
  if (gate) return gate;
  if (!env.TOLLGATE_LEDGER_TABLE || !env.TOLLGATE_KEYS_TABLE) throw new Error('TOLLGATE_LEDGER_TABLE and TOLLGATE_KEYS_TABLE must be set (the stack sets them)');
  gate = createDynamoGatekeeper({
    client: client ?? new DynamoDBClient({}),
    tables: { keys: env.TOLLGATE_KEYS_TABLE, ledger: env.TOLLGATE_LEDGER_TABLE },
    config: bakedConfig(env),
    onError: (err, context) => console.error(JSON.stringify({ level: 'ERROR', message: 'store error', context, error: err instanceof Error ? err.message : String(err) })),
  });
  return gate;
}
