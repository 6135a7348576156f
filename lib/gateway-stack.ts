/**
 * The Tollgate stack: wiring only. Each concern lives in its own construct under lib/constructs/; this
 * file creates them, passes resources between them and declares the outputs.
 *
 * Environment-agnostic (no `env`): account and region are CloudFormation pseudo-parameters resolved at
 * deploy time, so `cdk synth` needs no credentials and does no lookups.
 */
import { resolve } from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Alerts } from './constructs/alerts';
import { Api } from './constructs/api';
import { CostInsights } from './constructs/cost-insights';
import { Data } from './constructs/data';
import { GatewayFunction } from './constructs/gateway-function';
import { Monitoring } from './constructs/monitoring';
import { ProviderSecrets } from './constructs/secrets';
import { SettlementOutbox } from './constructs/settlement-outbox';
import { Sweeper } from './constructs/sweeper';
import { providerSecretFields, type TollgateConfig } from './settings';

export const HANDLERS_DIR = resolve(__dirname, '..', 'lambda', 'handlers');

export interface TollgateStackProps extends StackProps {
  /** The validated config (parsed once in bin/tollgate.ts). */
  readonly settings: TollgateConfig;
  /** Handler entry points; tests point these at small fixtures to keep bundling fast. */
  readonly gatewayEntry?: string;
  readonly sweeperEntry?: string;
  readonly forecasterEntry?: string;
  readonly chargebackExportEntry?: string;
  readonly outboxEntry?: string;
}

export class TollgateStack extends Stack {
  constructor(scope: Construct, id: string, props: TollgateStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const data = new Data(this, 'Data');
    const secrets = new ProviderSecrets(this, 'Secrets', { providerIds: providerSecretFields(settings) });
    const alerts = new Alerts(this, 'Alerts', { emails: settings.alerts.emails });

    const outbox = new SettlementOutbox(this, 'SettlementOutbox', {
      settings,
      entry: props.outboxEntry ?? resolve(HANDLERS_DIR, 'settlement-outbox.ts'),
      keysTable: data.keysTable,
      ledgerTable: data.ledgerTable,
    });

    const gateway = new GatewayFunction(this, 'GatewayFunction', {
      settings,
      entry: props.gatewayEntry ?? resolve(HANDLERS_DIR, 'gateway.ts'),
      keysTable: data.keysTable,
      ledgerTable: data.ledgerTable,
      providerSecret: secrets.secret,
      alerts,
      outboxQueue: outbox.queue,
    });

    const api = new Api(this, 'Api', { handler: gateway.function, deployment: settings.deployment });

    new Sweeper(this, 'Sweeper', {
      settings,
      entry: props.sweeperEntry ?? resolve(HANDLERS_DIR, 'sweeper.ts'),
      ledgerTable: data.ledgerTable,
    });

    const insights = new CostInsights(this, 'CostInsights', {
      settings,
      forecasterEntry: props.forecasterEntry ?? resolve(HANDLERS_DIR, 'forecaster.ts'),
      exportEntry: props.chargebackExportEntry ?? resolve(HANDLERS_DIR, 'chargeback-export.ts'),
      keysTable: data.keysTable,
      ledgerTable: data.ledgerTable,
      alerts,
    });
    new CfnOutput(this, 'ChargebackBucketName', { value: insights.bucket.bucketName });

    const monitoring = new Monitoring(this, 'Monitoring', {
      settings,
      gatewayFunction: gateway.function,
      api: api.api,
      alertTopic: alerts.topic,
    });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName });

    new CfnOutput(this, 'ApiUrl', {
      value: api.baseUrl,
      description: 'OpenAI base URL (OPENAI_BASE_URL / base_url)',
    });
    new CfnOutput(this, 'KeysTableName', { value: data.keysTable.tableName });
    new CfnOutput(this, 'LedgerTableName', { value: data.ledgerTable.tableName });
    new CfnOutput(this, 'ProviderSecretArn', {
      value: secrets.secret.secretArn,
      description: 'Fill in provider API keys: a JSON object with one field per provider id',
    });
    new CfnOutput(this, 'AlertTopicArn', { value: alerts.topic.topicArn });
  }
}
