/**
 * Cost insights that run on a schedule: the hourly budget forecaster (publishes "will be exhausted on
 * <date>" to the alert topic, once per budget and period) and the monthly chargeback export (the previous
 * month per customer × team × feature × model as CSV and JSON Lines) into a bucket this construct owns:
 * S3-managed encryption, TLS only, no public access, objects moved to Infrequent Access after 90 days and
 * deleted after ~2 years. The Athena table over it is in docs/chargeback.md.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { TollgateConfig } from '../settings';
import type { AlertPublishTarget } from './alerts';
import { TollgateFunction } from './function-defaults';

export interface CostInsightsProps {
  readonly settings: TollgateConfig;
  readonly forecasterEntry: string;
  readonly exportEntry: string;
  readonly keysTable: dynamodb.ITable;
  readonly ledgerTable: dynamodb.ITable;
  readonly alerts: AlertPublishTarget;
}

export class CostInsights extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: CostInsightsProps) {
    super(scope, id);
    const { settings } = props;
    const common = { logRetentionDays: settings.deployment.logRetentionDays, config: settings, memorySize: 256, timeout: Duration.minutes(5) };

    this.bucket = new s3.Bucket(this, 'ChargebackBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Finance data: kept when the stack is deleted.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(90) }], expiration: Duration.days(731) }],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the export function writes here (its role is the sole writer) and readers are operators with their own IAM ' +
        'credentials; CloudTrail S3 data events audit access without a second bucket of access logs to secure and expire.',
    });

    const forecaster = new TollgateFunction(this, 'Forecaster', {
      ...common,
      entry: props.forecasterEntry,
      description: 'Tollgate budget forecaster (hourly): exhaustion alerts',
      environment: {
        TOLLGATE_KEYS_TABLE: props.keysTable.tableName,
        TOLLGATE_LEDGER_TABLE: props.ledgerTable.tableName,
        TOLLGATE_ALERT_TOPIC_ARN: props.alerts.topic.topicArn,
      },
    });
    props.keysTable.grantReadData(forecaster.function);
    // Reads budget counters, writes the once-per-period forecast marker.
    props.ledgerTable.grantReadWriteData(forecaster.function);
    props.alerts.grantPublish(forecaster.function);
    new events.Rule(this, 'ForecastSchedule', {
      description: 'Run the Tollgate budget forecaster',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(forecaster.function, { retryAttempts: 0 })],
    });

    const exporter = new TollgateFunction(this, 'ChargebackExport', {
      ...common,
      entry: props.exportEntry,
      description: 'Tollgate chargeback export (monthly) to S3',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      environment: { TOLLGATE_LEDGER_TABLE: props.ledgerTable.tableName, TOLLGATE_CHARGEBACK_BUCKET: this.bucket.bucketName },
    });
    props.ledgerTable.grantReadData(exporter.function);
    // PutObject under chargeback/ only (not grantPut's s3:Abort* and any key).
    exporter.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('chargeback/*')] }));
    Validations.of(exporter.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/chargeback/*]`,
      reason:
        'The export writes one object pair per month under chargeback/format=.../month=<yyyy-mm>/: the month is not known at ' +
        'deploy time, so the grant is PutObject (only) on that prefix of the stack\'s own bucket.',
    });
    new events.Rule(this, 'ExportSchedule', {
      description: 'Export last month\'s chargeback files on the 1st at 02:00 UTC',
      schedule: events.Schedule.cron({ minute: '0', hour: '2', day: '1' }),
      targets: [new targets.LambdaFunction(exporter.function, { retryAttempts: 2 })],
    });
  }
}
