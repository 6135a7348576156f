/**
 * The two DynamoDB tables, built from the key schema the store and its tests share
 * (lambda/store/table-schema.ts), so the deployed tables cannot drift from what the code expects.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { KEYS_GSIS, KEYS_TABLE_SCHEMA, LEDGER_GSIS, LEDGER_TABLE_SCHEMA } from '../../lambda/store/table-schema';

type GsiSpec = { name: string; partitionKey: string; sortKey?: string };

const str = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

function moneyTable(scope: Construct, id: string, props: dynamodb.TableProps, gsis: ReadonlyArray<GsiSpec>): dynamodb.Table {
  const table = new dynamodb.Table(scope, id, {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // AWS-owned keys would also pass cdk-nag's AwsSolutions pack; AWS-managed (aws/dynamodb) keeps key
    // usage visible in CloudTrail at no key cost. A customer-managed key adds cost and a key policy to
    // maintain without changing who can read the table (IAM already scopes that).
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    // Keys and spend records are money: keep them when the stack is deleted and refuse table deletion.
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
    ...props,
  });
  for (const gsi of gsis) {
    table.addGlobalSecondaryIndex({
      indexName: gsi.name,
      partitionKey: str(gsi.partitionKey),
      sortKey: gsi.sortKey ? str(gsi.sortKey) : undefined,
    });
  }
  return table;
}

export class Data extends Construct {
  /** Gateway keys (hashed), one item per key. */
  public readonly keysTable: dynamodb.ITable;
  /** Counters, budgets, reservations and per-request usage records (TTL-expired). */
  public readonly ledgerTable: dynamodb.ITable;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.keysTable = moneyTable(this, 'KeysTable', { partitionKey: str(KEYS_TABLE_SCHEMA.partitionKey) }, KEYS_GSIS);
    this.ledgerTable = moneyTable(
      this,
      'LedgerTable',
      {
        partitionKey: str(LEDGER_TABLE_SCHEMA.partitionKey),
        sortKey: str(LEDGER_TABLE_SCHEMA.sortKey),
        timeToLiveAttribute: LEDGER_TABLE_SCHEMA.ttlAttribute,
      },
      LEDGER_GSIS,
    );
  }
}
