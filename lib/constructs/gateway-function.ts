/**
 * The gateway function: the OpenAI-compatible app behind API Gateway (response streaming), with the
 * validated config baked in and least-privilege access to the tables, the provider-keys secret, the alert
 * topic and exactly the Bedrock models the config routes to.
 */
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { BEDROCK_INVOKE_ACTIONS, bedrockResourceArns } from '../bedrock-arns';
import { bedrockTargets, type TollgateConfig } from '../settings';
import type { AlertPublishTarget } from './alerts';
import { TollgateFunction } from './function-defaults';
import { ShutdownSignalLayer } from './shutdown-extension';

/** Everything the gateway does with the keys table (lambda/store/key-store.ts: get, getPolicies). */
export const KEYS_TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem'] as const;

export interface GatewayFunctionProps {
  readonly settings: TollgateConfig;
  /** Absolute path of the handler module. */
  readonly entry: string;
  readonly keysTable: dynamodb.ITable;
  readonly ledgerTable: dynamodb.ITable;
  readonly providerSecret: secretsmanager.ISecret;
  /** Alarms' topic; the function publishes budget-threshold notifications to it. */
  readonly alerts: AlertPublishTarget;
  /** The settlement outbox: settlements the ledger could not take in time are sent here. */
  readonly outboxQueue?: sqs.IQueue;
}

export class GatewayFunction extends Construct {
  public readonly function: lambda.IFunction;
  public readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const { settings } = props;
    const built = new TollgateFunction(this, 'Gateway', {
      entry: props.entry,
      description: 'Tollgate OpenAI-compatible gateway (streaming)',
      memorySize: settings.deployment.memoryMb,
      timeout: Duration.seconds(settings.deployment.timeoutSeconds),
      logRetentionDays: settings.deployment.logRetentionDays,
      config: settings,
      // The tokenizer is a chunk of its own, loaded after the first response, not parsed at cold start.
      lazyChunks: true,
      // lambda/handlers/gateway.ts installs lazy-source-maps.ts: no source map read at cold start.
      sourceMapsOnFirstTrace: true,
      // Names and ARNs only: provider keys stay in Secrets Manager and are fetched at run time.
      environment: {
        TOLLGATE_KEYS_TABLE: props.keysTable.tableName,
        TOLLGATE_LEDGER_TABLE: props.ledgerTable.tableName,
        TOLLGATE_PROVIDER_SECRET_ARN: props.providerSecret.secretArn,
        TOLLGATE_ALERT_TOPIC_ARN: props.alerts.topic.topicArn,
        ...(props.outboxQueue ? { TOLLGATE_OUTBOX_QUEUE_URL: props.outboxQueue.queueUrl } : {}),
        // The metrics' `Service` dimension: two stacks in one account keep separate series and alarms.
        POWERTOOLS_SERVICE_NAME: Stack.of(this).stackName,
        POWERTOOLS_METRICS_NAMESPACE: settings.observability.namespace,
      },
    });
    const fn = built.function;
    // Lambda sends SIGTERM before retiring a container only when an extension is registered: with it, the
    // container gives its admission leases back (lambda/handlers/shutdown.ts) rather than leaving them to
    // the sweeper, which charges what they held.
    fn.addLayers(new ShutdownSignalLayer(this, 'ShutdownSignal').layer);

    // Least privilege: the gateway only reads keys (GetItem for a key, BatchGetItem for its policies);
    // minting, updating and revoking keys is the admin CLI's job, with the operator's credentials.
    iam.Grant.addToPrincipal({ grantee: fn, actions: [...KEYS_TABLE_READ_ACTIONS], resourceArns: [props.keysTable.tableArn] });
    props.ledgerTable.grantReadWriteData(fn);
    props.providerSecret.grantRead(fn);
    props.alerts.grantPublish(fn);
    props.outboxQueue?.grantSendMessages(fn);

    const bedrockArns = bedrockResourceArns(bedrockTargets(settings), { partition: Aws.PARTITION, account: Aws.ACCOUNT_ID });
    if (bedrockArns.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'InvokeConfiguredBedrockModels',
          actions: [...BEDROCK_INVOKE_ACTIONS],
          resources: bedrockArns,
        }),
      );
    }

    this.function = fn;
    this.logGroup = built.logGroup;
  }
}
