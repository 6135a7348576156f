import * as logs from 'aws-cdk-lib/aws-logs';
import { retentionDays } from '../../lib/constructs/function-defaults';
import { DEFAULT_STACK_NAME, bedrockTargets, providerSecretFields, resolveStackName } from '../../lib/settings';
import { makeConfig } from './support/make-stack';

describe('Function: providerSecretFields', () => {
  it('names every provider with an apiKey, sorted, and skips Bedrock (IAM)', () => {
    expect(providerSecretFields(makeConfig())).toEqual(['anthropic', 'deepseek', 'google', 'mistral', 'openai']);
  });

  it('skips openai-compatible providers without a key (e.g. a local vLLM)', () => {
    const config = makeConfig({ providers: { local: { kind: 'openai-compatible', baseUrl: 'http://10.0.0.5:8000/v1' } } });
    expect(providerSecretFields(config)).not.toContain('local');
  });
});

describe('Function: bedrockTargets', () => {
  it('lists the Bedrock (region, model) pairs of the example config once each', () => {
    expect(bedrockTargets(makeConfig())).toEqual([
      { region: 'us-east-1', modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
      { region: 'us-east-1', modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
      { region: 'us-east-1', modelId: 'amazon.nova-lite-v1:0' },
    ]);
  });

  it('uses each Bedrock provider its own region', () => {
    const config = makeConfig({
      providers: { 'bedrock-eu': { kind: 'bedrock', region: 'eu-west-1' } },
      models: { 'nova-eu': { targets: [{ provider: 'bedrock-eu', model: 'eu.amazon.nova-lite-v1:0' }] } },
    });
    expect(bedrockTargets(config)).toContainEqual({ region: 'eu-west-1', modelId: 'eu.amazon.nova-lite-v1:0' });
  });
});

describe('Function: resolveStackName', () => {
  it('prefers context, then TOLLGATE_STACK_NAME, then the default', () => {
    expect(resolveStackName('FromContext', { TOLLGATE_STACK_NAME: 'FromEnv' })).toBe('FromContext');
    expect(resolveStackName(undefined, { TOLLGATE_STACK_NAME: 'FromEnv' })).toBe('FromEnv');
    expect(resolveStackName(undefined, {})).toBe(DEFAULT_STACK_NAME);
  });

  it('rejects names CloudFormation would reject', () => {
    expect(() => resolveStackName('my_stack', {})).toThrow(/Invalid stack name/);
  });
});

describe('Function: retentionDays', () => {
  it('accepts CloudWatch retention values', () => {
    expect(retentionDays(30)).toBe(logs.RetentionDays.ONE_MONTH);
    expect(retentionDays(365)).toBe(logs.RetentionDays.ONE_YEAR);
  });

  it('names the allowed values for one CloudWatch does not support', () => {
    expect(() => retentionDays(31)).toThrow(/logRetentionDays = 31 .*one of 1, 3, 5, 7/);
  });
});
