/**
 * CPU per DynamoDB call of the store's document client (lambda/store/lean-dynamo.ts) against the AWS SDK's
 * DynamoDBDocumentClient, same process, same client config (the gateway's socket pool), same calls:
 *
 *   npx tsx bench/dynamo-client.ts [rounds=3] [pairs=1000]
 *
 * The store runs in its own process (dynalite, as in the bench topology), so its work is not counted.
 * Each round runs both clients alternately over the same request-path pair the gateway makes per request
 * (a conditional PutItem of a request record and an UpdateItem with ReturnValues), and reports user+system
 * CPU per call of this process. Includes Node's HTTP client and the loopback socket writes both pay.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand as SdkPutCommand, UpdateCommand as SdkUpdateCommand, type PutCommandInput, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_TABLES } from '../lambda/local/embedded-dynamo';
import { documentClient, dynamoRequestHandler } from '../lambda/store/dynamo';
import { PutCommand, UpdateCommand } from '../lambda/store/lean-commands';
import { startWorker } from './processes/ipc';

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const pairs = Number(process.argv[3] ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-dynamo-client-'));
  const store = await startWorker(join(__dirname, 'processes', 'store-process.ts'));
  try {
    const endpoint = await store.call<string>('start', dir);
    const { accessKeyId, secretAccessKey } = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3, requestHandler: dynamoRequestHandler() });
    const table = LOCAL_TABLES.ledger;
    let n = 0;
    const inputs = (): { put: PutCommandInput; update: UpdateCommandInput } => {
      const id = `bench-${n++}`;
      const record = { pk: `req#2026-12-01#${id}`, sk: 'rec', kind: 'request', keyId: 'k1', model: 'gpt-4o-mini', provider: 'openai', inputTokens: 123, outputTokens: 456, costMicros: 789, status: 'ok', ttl: 1_800_000_000, latency: { ttftMs: 12.5, totalMs: 456.25 } };
      return {
        put: { TableName: table, Item: record, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
        update: {
          TableName: table,
          Key: { pk: 'bench#counter', sk: '2026-12-01' },
          UpdateExpression: 'ADD committed :c, requests :one SET #last = :id',
          ExpressionAttributeNames: { '#last': 'lastRequest' },
          ExpressionAttributeValues: { ':c': 789, ':one': 1, ':id': id },
          ReturnValues: 'ALL_NEW',
        },
      };
    };
    // Each client with the command classes its callers build (the store's are the lean ones: no SDK command per call).
    const sdk = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const lean = documentClient(client);
    const clients: Array<[string, () => Promise<void>]> = [
      [
        'AWS SDK DynamoDBDocumentClient',
        async () => {
          const { put, update } = inputs();
          await sdk.send(new SdkPutCommand(put));
          await sdk.send(new SdkUpdateCommand(update));
        },
      ],
      [
        'lean documentClient()',
        async () => {
          const { put, update } = inputs();
          await lean.send(new PutCommand(put));
          await lean.send(new UpdateCommand(update));
        },
      ],
    ];
    for (const [, pair] of clients) for (let i = 0; i < 200; i++) await pair(); // warm-up
    const totals = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const [name, pair] of clients) {
        const before = process.cpuUsage();
        for (let i = 0; i < pairs; i++) await pair();
        const used = process.cpuUsage(before);
        totals.set(name, [...(totals.get(name) ?? []), (used.user + used.system) / (2 * pairs)]);
      }
    }
    for (const [name, perCall] of totals) {
      const sorted = [...perCall].sort((a, b) => a - b);
      console.log(`${name.padEnd(32)} CPU per call: median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} µs (rounds: ${perCall.map((v) => v.toFixed(0)).join(', ')})`);
    }
    client.destroy();
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
