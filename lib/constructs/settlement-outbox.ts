/**
 * The settlement outbox: an SQS queue that takes the settlements the gateway could not write to the
 * ledger before its deadline, a dead-letter queue for messages that keep failing (kept 14 days, for a
 * redrive: never dropped), and the consumer function that replays them (idempotently) into the ledger.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TollgateConfig } from '../settings';
import { TollgateFunction } from './function-defaults';

export interface SettlementOutboxProps {
  readonly settings: TollgateConfig;
  /** Absolute path of the consumer handler module. */
  readonly entry: string;
  readonly keysTable: dynamodb.ITable;
  readonly ledgerTable: dynamodb.ITable;
}

/** Deliveries before a message moves to the dead-letter queue (each one retried with the queue's visibility timeout). */
export const OUTBOX_MAX_RECEIVES = 10;
const CONSUMER_TIMEOUT = Duration.minutes(1);

export class SettlementOutbox extends Construct {
  public readonly queue: sqs.IQueue;
  public readonly deadLetterQueue: sqs.IQueue;
  public readonly consumer: lambda.IFunction;

  constructor(scope: Construct, id: string, props: SettlementOutboxProps) {
    super(scope, id);
    const dlq = new sqs.Queue(this, 'DeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new sqs.Queue(this, 'Queue', {
      retentionPeriod: Duration.days(14),
      // Lambda's guidance: at least 6 × the consumer's timeout, so a retried batch is not redelivered mid-run.
      visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: dlq, maxReceiveCount: OUTBOX_MAX_RECEIVES },
    });
    const built = new TollgateFunction(this, 'Consumer', {
      entry: props.entry,
      description: 'Tollgate settlement outbox consumer (SQS)',
      memorySize: 256,
      timeout: CONSUMER_TIMEOUT,
      logRetentionDays: props.settings.deployment.logRetentionDays,
      config: props.settings,
      environment: {
        TOLLGATE_KEYS_TABLE: props.keysTable.tableName,
        TOLLGATE_LEDGER_TABLE: props.ledgerTable.tableName,
        POWERTOOLS_SERVICE_NAME: 'tollgate-outbox',
      },
    });
    built.function.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
    // No keys-table grant: a replay writes the ledger only (the table name is set for the shared composition).
    props.ledgerTable.grantReadWriteData(built.function);
    this.queue = queue;
    this.deadLetterQueue = dlq;
    this.consumer = built.function;
  }
}
