/**
 * cdk-nag 3 runs as a CDK validation plugin (`Validations.of(app).addPlugins(...)`): findings come back as
 * a PolicyValidationPluginReport, and an app with the plugin registered fails `synth` on any finding that
 * is not acknowledged. Acknowledgements are construct metadata (`Validations.ACKNOWLEDGED_RULES_METADATA_KEY`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { makeStack, testApp, type MadeStack } from './support/make-stack';

function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  let made: MadeStack;

  beforeAll(() => {
    made = makeStack({ config: { alerts: { emails: ['ops@example.com'] } } });
  });

  it('reports no unacknowledged error or warning on the whole app', () => {
    const report = new AwsSolutionsChecks().validateScope(made.app);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('lets an app synthesize as `cdk synth` does: cdk-nag plugin plus CDK\'s CloudFormation schema validation, no findings', () => {
    const app = testApp({ cfnValidation: true });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // makeStack synthesizes (Template.fromStack), which runs the plugins and throws on a failing report.
    makeStack({ app });
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ pluginName?: string; violations?: unknown[] }>;
    };
    const violations = report.pluginReports.flatMap((r) => r.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('acknowledges only the reviewed rules, each with a real reason', () => {
    const acks = acknowledgements(made.app);
    expect([...new Set(acks.map((a) => a.id))].sort()).toEqual(
      [
        'AwsSolutions-APIG3',
        'AwsSolutions-APIG4',
        'AwsSolutions-COG4',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'AwsSolutions-IAM5[Resource::<CostInsightsChargebackBucketDC2CFB58.Arn>/chargeback/*]',
        'AwsSolutions-L1',
        'AwsSolutions-S1',
        'AwsSolutions-SMG4',
      ].sort(),
    );
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(60);
    // Scoped to the construct concerned, never the whole stack.
    for (const ack of acks) expect(ack.path.split('/').length).toBeGreaterThan(2);
  });

  it('does fail synthesis on an unacknowledged finding (the harness is live)', () => {
    const app = testApp();
    const stack = new Stack(app, 'Bad');
    new sns.Topic(stack, 'Plain'); // no TLS-only topic policy
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SNS3');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS3/);
  });
});
