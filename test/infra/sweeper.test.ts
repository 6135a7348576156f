import { type App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Data } from '../../lib/constructs/data';
import { Sweeper } from '../../lib/constructs/sweeper';
import { NOOP_HANDLER, makeConfig, testApp } from './support/make-stack';

describe('Construct: Sweeper', () => {
  let app: App;
  let template: Template;

  beforeAll(() => {
    app = testApp();
    const stack = new Stack(app, 'SweeperTest');
    const data = new Data(stack, 'Data');
    new Sweeper(stack, 'Sweeper', {
      settings: makeConfig({ deployment: { logRetentionDays: 7 } }),
      entry: NOOP_HANDLER,
      ledgerTable: data.ledgerTable,
    });
    template = Template.fromStack(stack);
  });

  it('runs every five minutes, without retries that would race the next run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Sweeper(Sweeper)?Function'), 'Arn'] }, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    template.resourceCountIs('AWS::Lambda::Permission', 1);
  });

  it('is built like the gateway function: Node.js 22, arm64, own log group with the configured retention', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^Sweeper(Sweeper)?Logs') } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('reads and writes the ledger table, has no access to the keys table, and nothing else', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } } }).Properties.PolicyDocument.Statement,
    );
    const resources = statements.map((s) => JSON.stringify(s.Resource));
    expect(resources.some((r) => r.includes('DataKeysTable'))).toBe(false);
    expect(resources.some((r) => r.includes('DataLedgerTable'))).toBe(true);
    const services = new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual(['dynamodb', 'logs']);
  });

  it('is cdk-nag clean', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName)).toEqual([]);
  });
});
