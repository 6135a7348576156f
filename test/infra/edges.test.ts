/**
 * The stack's edges (issue 10): alarms that can actually publish to the alert topic, least privilege on
 * the keys table, and names derived from the stack name so two stacks in one account stay apart.
 */
import { Match, Template as T, type Template } from 'aws-cdk-lib/assertions';
import { TollgateStack } from '../../lib/gateway-stack';
import { KEYS_TABLE_READ_ACTIONS } from '../../lib/constructs/gateway-function';
import { NOOP_HANDLER, makeConfig, makeStack, testApp } from './support/make-stack';

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown; Condition?: unknown };
type PolicyResource = { Properties: { PolicyDocument: { Statement: Statement[] }; Roles?: Array<{ Ref: string }> } };

const asArray = <T,>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const ALERTS = { spendPerHourUsd: 10, spendPerDayUsd: 100, spendAnomalyBand: 2 };

/** The identity-policy statements attached to roles whose logical id starts with `rolePrefix`. */
function roleStatements(template: Template, rolePrefix: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy') as Record<string, PolicyResource>)
    .filter((p) => (p.Properties.Roles ?? []).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0];
}

const mentions = (s: Statement, id: string) => JSON.stringify(s.Resource).includes(id);

describe('Stack edges', () => {
  let template: Template;
  let keysTableId: string;

  beforeAll(() => {
    ({ template } = makeStack({ config: { alerts: ALERTS } }));
    keysTableId = logicalId(template, 'AWS::DynamoDB::Table', 'DataKeysTable');
  });

  describe('alert topic policy', () => {
    it("allows this account's alarms of this stack to publish, besides denying plain HTTP", () => {
      const topicId = logicalId(template, 'AWS::SNS::Topic', 'AlertsTopic');
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            {
              Sid: 'AllowThisStacksAlarmsToPublish',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: topicId },
              Condition: {
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnLike: {
                  'aws:SourceArn': {
                    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:Tollgate-*']],
                  },
                },
              },
            },
          ]),
        },
      });
    });

    it('covers every alarm the stack creates (their names start with the stack name) and each alarm notifies the topic', () => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: { AlarmName: string; AlarmActions: unknown[] } }>;
      expect(alarms.length).toBeGreaterThanOrEqual(3);
      for (const a of alarms) {
        expect(a.Properties.AlarmName).toMatch(/^Tollgate-/);
        expect(a.Properties.AlarmActions).toEqual([{ Ref: logicalId(template, 'AWS::SNS::Topic', 'AlertsTopic') }]);
      }
    });

    it('lets CloudWatch use the topic key (KMS) as the alarms must', () => {
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
      });
    });
  });

  describe('least privilege on the keys table', () => {
    it('gives the gateway exactly GetItem and BatchGetItem on the keys table (no index, no write)', () => {
      const onKeys = roleStatements(template, 'GatewayFunction').filter((s) => mentions(s, keysTableId));
      expect(onKeys).toEqual([{ Effect: 'Allow', Action: [...KEYS_TABLE_READ_ACTIONS], Resource: { 'Fn::GetAtt': [keysTableId, 'Arn'] } }]);
    });

    it('gives the sweeper no access to the keys table at all', () => {
      const sweeper = roleStatements(template, 'Sweeper');
      expect(sweeper.length).toBeGreaterThan(0);
      expect(sweeper.filter((s) => mentions(s, keysTableId))).toEqual([]);
    });

    it('grants no role any write to the keys table, nor DynamoDB actions on every resource', () => {
      const all = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, PolicyResource>).flatMap((p) => p.Properties.PolicyDocument.Statement);
      for (const s of all) {
        const actions = asArray(s.Action);
        // Other functions (e.g. the forecaster) may read it; nothing may write it.
        if (mentions(s, keysTableId)) expect(actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite|PartiQL(Insert|Update|Delete))/.test(a))).toEqual([]);
        if (actions.some((a) => a.startsWith('dynamodb:'))) expect(asArray(s.Resource)).not.toContain('*');
      }
    });
  });
});

describe('Two stacks in one account', () => {
  let dev: Template;
  let prod: Template;

  beforeAll(() => {
    const app = testApp();
    const settings = makeConfig({ alerts: ALERTS });
    const build = (name: string) => new TollgateStack(app, name, { settings, gatewayEntry: NOOP_HANDLER, sweeperEntry: NOOP_HANDLER });
    // Both in one app (one synthesis), as `cdk deploy` of two stacks into one account would build them.
    const [d, p] = [build('TollgateDev'), build('TollgateProd')];
    dev = T.fromStack(d);
    prod = T.fromStack(p);
  });

  const names = (t: Template, type: string, prop: string) =>
    Object.values(t.findResources(type)).map((r) => JSON.stringify((r as { Properties: Record<string, unknown> }).Properties[prop]));

  it('name their APIs, alarms and dashboards after the stack', () => {
    expect(names(dev, 'AWS::ApiGateway::RestApi', 'Name')).toEqual(['"TollgateDev"']);
    expect(names(prod, 'AWS::ApiGateway::RestApi', 'Name')).toEqual(['"TollgateProd"']);
    for (const [t, stack] of [[dev, 'TollgateDev'], [prod, 'TollgateProd']] as const) {
      for (const n of names(t, 'AWS::CloudWatch::Alarm', 'AlarmName')) expect(n).toMatch(new RegExp(`^"${stack}-`));
      for (const n of names(t, 'AWS::CloudWatch::Dashboard', 'DashboardName')) expect(n).toContain(stack);
    }
    const overlap = names(dev, 'AWS::CloudWatch::Alarm', 'AlarmName').filter((n) => names(prod, 'AWS::CloudWatch::Alarm', 'AlarmName').includes(n));
    expect(overlap).toEqual([]);
  });

  it('publish and watch metrics under their own Service dimension (same namespace, separate series and anomaly models)', () => {
    for (const [t, stack] of [[dev, 'TollgateDev'], [prod, 'TollgateProd']] as const) {
      t.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('gateway'),
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: stack }) },
      });
      t.hasResourceProperties('AWS::CloudWatch::AnomalyDetector', {
        SingleMetricAnomalyDetector: Match.objectLike({ Dimensions: [{ Name: 'Service', Value: stack }] }),
      });
      const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((r) => JSON.stringify(r));
      const custom = alarms.filter((a) => a.includes('"Namespace":"Tollgate"'));
      expect(custom.length).toBeGreaterThan(0);
      for (const a of custom) expect(a).toContain(`{"Name":"Service","Value":"${stack}"}`);
      const dashboard = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]);
      expect(dashboard).not.toMatch(/SEARCH\('\{[^}]*\} MetricName/);
      expect(dashboard).toContain(`Service=\\\\\\"${stack}\\\\\\"`);
    }
  });

  it("let each stack's topic accept only its own alarms", () => {
    const pattern = (t: Template) => JSON.stringify(t.findResources('AWS::SNS::TopicPolicy')).match(/:alarm:([^"]+)"/)?.[1];
    expect(pattern(dev)).toBe('TollgateDev-*');
    expect(pattern(prod)).toBe('TollgateProd-*');
  });
});
