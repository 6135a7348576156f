import { Match } from 'aws-cdk-lib/assertions';
import { makeStack, type MadeStack } from './support/make-stack';

describe('Construct: SettlementOutbox', () => {
  let made: MadeStack;

  beforeAll(() => {
    made = makeStack();
  });

  it('is an encrypted SQS queue with a dead-letter queue that keeps failed settlements 14 days', () => {
    const { template } = made;
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SettlementOutboxDeadLetters'), 'Arn'] }, maxReceiveCount: 10 },
    });
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('is drained by the consumer function with partial batch responses', () => {
    made.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SettlementOutboxQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });

  it('lets the gateway send to the queue and tells it where the queue is', () => {
    const { template } = made;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Tollgate OpenAI-compatible gateway (streaming)',
      Environment: { Variables: Match.objectLike({ TOLLGATE_OUTBOX_QUEUE_URL: { Ref: Match.stringLikeRegexp('^SettlementOutboxQueue') } }) },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('sqs:SendMessage');
    expect(policies).toContain('sqs:ReceiveMessage');
    expect(policies).toContain('sqs:DeleteMessage');
  });
});
