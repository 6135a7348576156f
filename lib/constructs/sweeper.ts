/**
 * The reservation sweeper: every five minutes it releases budget reservations whose requests died without
 * settling (a crashed or timed-out invocation), so held spend returns to the budgets.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { TollgateConfig } from '../settings';
import { TollgateFunction } from './function-defaults';

export interface SweeperProps {
  readonly settings: TollgateConfig;
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** The only table it touches (it never reads or writes gateway keys). */
  readonly ledgerTable: dynamodb.ITable;
}

export const SWEEP_INTERVAL = Duration.minutes(5);

export class Sweeper extends Construct {
  public readonly function: lambda.IFunction;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    const built = new TollgateFunction(this, 'Sweeper', {
      entry: props.entry,
      description: 'Tollgate reservation sweeper (scheduled)',
      memorySize: 256,
      timeout: Duration.minutes(2),
      logRetentionDays: props.settings.deployment.logRetentionDays,
      config: props.settings,
      environment: {
        TOLLGATE_LEDGER_TABLE: props.ledgerTable.tableName,
        POWERTOOLS_SERVICE_NAME: `${Stack.of(this).stackName}-sweeper`,
        POWERTOOLS_METRICS_NAMESPACE: props.settings.observability.namespace,
      },
    });
    props.ledgerTable.grantReadWriteData(built.function);

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Run the Tollgate reservation sweeper',
      schedule: events.Schedule.rate(SWEEP_INTERVAL),
      // No retries: the next run is five minutes away and a retry would only race it.
      targets: [new targets.LambdaFunction(built.function, { retryAttempts: 0 })],
    });
    this.function = built.function;
  }
}
