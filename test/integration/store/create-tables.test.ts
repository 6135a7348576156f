/**
 * ensureTables returns only once the tables take writes: CreateTable answers while a table is still
 * CREATING (for seconds in DynamoDB, for a timer tick in dynalite), and a write before it is ACTIVE fails
 * with ResourceNotFoundException (a flaky embedded-store start under a loaded test run).
 */
import { DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureTables } from '../../../lambda/store/create-tables';

describe('ensureTables', () => {
  let server: Server;
  let client: DynamoDBClient;

  beforeAll(async () => {
    // A table stays CREATING for 300 ms after CreateTable answers.
    server = dynalite({ createTableMs: 300 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('returns when both tables are ACTIVE, so the first write lands', async () => {
    const tables = { keys: 'ct-keys', ledger: 'ct-ledger' };
    await ensureTables(client, tables);
    for (const name of [tables.keys, tables.ledger]) {
      expect((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus).toBe('ACTIVE');
    }
    await client.send(new PutItemCommand({ TableName: tables.ledger, Item: { pk: { S: 'a' }, sk: { S: 'b' } } }));
    // Called again on existing tables: nothing to create, nothing to wait for.
    await ensureTables(client, tables);
  }, 30_000);
});
