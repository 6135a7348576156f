/**
 * Creates the keys and ledger tables from the shared key schema when they do not exist: used by the
 * local embedded store (dynalite) and the tests (DynamoDB Local). In AWS the CDK data construct builds
 * them from the same schema.
 */
import { CreateTableCommand, DescribeTableCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KEYS_GSIS, KEYS_TABLE_SCHEMA, LEDGER_GSIS, LEDGER_TABLE_SCHEMA } from './table-schema';

export interface TableNames {
  keys: string;
  ledger: string;
}

type Gsi = { name: string; partitionKey: string; sortKey?: string };

export async function ensureTables(client: DynamoDBClient, tables: TableNames): Promise<void> {
  await ensureTable(client, tables.keys, KEYS_TABLE_SCHEMA.partitionKey, undefined, KEYS_GSIS);
  await ensureTable(client, tables.ledger, LEDGER_TABLE_SCHEMA.partitionKey, LEDGER_TABLE_SCHEMA.sortKey, LEDGER_GSIS);
}

async function ensureTable(client: DynamoDBClient, name: string, pk: string, sk: string | undefined, gsis: ReadonlyArray<Gsi>): Promise<void> {
  let status: string | undefined;
  try {
    status = (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus;
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
  }
  if (status === 'ACTIVE') return;
  if (status === undefined) await createTable(client, name, pk, sk, gsis);
  // CreateTable answers while the table is still CREATING (seconds in DynamoDB, a timer tick in dynalite),
  // and writes to it fail with ResourceNotFoundException until it is ACTIVE. The SDK's waiter checks at
  // once, then backs off.
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 0.05, maxDelay: 2 }, { TableName: name });
}

async function createTable(client: DynamoDBClient, name: string, pk: string, sk: string | undefined, gsis: ReadonlyArray<Gsi>): Promise<void> {
  const keySchema = (hash: string, range?: string) => [
    { AttributeName: hash, KeyType: 'HASH' as const },
    ...(range ? [{ AttributeName: range, KeyType: 'RANGE' as const }] : []),
  ];
  const attrs = new Set<string>([pk, ...(sk ? [sk] : []), ...gsis.flatMap((g) => [g.partitionKey, ...(g.sortKey ? [g.sortKey] : [])])]);
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attrs].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
      KeySchema: keySchema(pk, sk),
      GlobalSecondaryIndexes: gsis.length
        ? gsis.map((g) => ({ IndexName: g.name, KeySchema: keySchema(g.partitionKey, g.sortKey), Projection: { ProjectionType: 'ALL' as const } }))
        : undefined,
    }),
  );
}
