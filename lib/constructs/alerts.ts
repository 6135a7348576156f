/**
 * The alert topic: CloudWatch alarms and the gateway's budget-threshold notifications are published here,
 * and the configured addresses get them by email. Encrypted with a customer-managed key because SNS's
 * AWS-managed key (alias/aws/sns) cannot be used by CloudWatch alarms.
 */
import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertsProps {
  /** Email addresses to subscribe (each must confirm the subscription from the email AWS sends). */
  readonly emails: readonly string[];
}

/** What a publisher needs: the topic's ARN and a way to be granted publish on it (encryption included). */
export interface AlertPublishTarget {
  readonly topic: sns.ITopic;
  grantPublish(grantee: iam.IGrantable): void;
}

/** Every alarm of this stack: their names all start with the stack name. */
export function alarmArnPattern(stack: Stack): string {
  return `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${stack.stackName}-*`;
}

export class Alerts extends Construct implements AlertPublishTarget {
  public readonly topic: sns.ITopic;
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Tollgate alert topic encryption',
      enableKeyRotation: true,
      // Deleting the stack schedules the key for deletion; nothing else is encrypted with it.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarm actions publish to the encrypted topic as the cloudwatch service principal.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, '*' means "this key"
      }),
    );
    const topic = new sns.Topic(this, 'Topic', {
      displayName: 'Tollgate alerts',
      masterKey: key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, and enforceSSL creates one holding only a Deny: without
    // this Allow, every alarm action would fail silently (recorded only in the alarm's history). Only
    // this account's alarms named after this stack (`<stack>-...`, see monitoring.ts) may publish.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': alarmArnPattern(Stack.of(this)) },
        },
      }),
    );
    for (const email of props.emails) topic.addSubscription(new subscriptions.EmailSubscription(email));
    this.topic = topic;
    this.key = key;
  }

  /**
   * Publish rights for a function: sns:Publish on the topic and, because the topic is encrypted, the two
   * KMS actions SNS performs on the publisher's behalf, named exactly (Topic.grantPublish would grant the
   * wildcard kms:GenerateDataKey*).
   */
  public grantPublish(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resourceArns: [this.key.keyArn] });
  }
}
