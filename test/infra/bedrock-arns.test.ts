import {
  GEOGRAPHY_DESTINATION_REGIONS,
  UnknownInferenceProfileError,
  bedrockResourceArns,
  bedrockResourceArnsFor,
  classifyModelId,
} from '../../lib/bedrock-arns';

const ctx = { partition: 'aws', account: '123456789012' };

describe('Function: classifyModelId', () => {
  it('treats provider.model ids as foundation models', () => {
    expect(classifyModelId('amazon.nova-lite-v1:0')).toEqual({ kind: 'foundation-model' });
    expect(classifyModelId('anthropic.claude-3-haiku-20240307-v1:0')).toEqual({ kind: 'foundation-model' });
    expect(classifyModelId('meta.llama3-1-8b-instruct-v1:0')).toEqual({ kind: 'foundation-model' });
  });

  it('recognises geographic profiles and strips the geography to get the foundation model', () => {
    expect(classifyModelId('us.anthropic.claude-haiku-4-5-20251001-v1:0')).toEqual({
      kind: 'geographic-profile',
      geography: 'us',
      foundationModelId: 'anthropic.claude-haiku-4-5-20251001-v1:0',
    });
    expect(classifyModelId('apac.amazon.nova-pro-v1:0')).toMatchObject({ geography: 'apac', foundationModelId: 'amazon.nova-pro-v1:0' });
    expect(classifyModelId('us-gov.anthropic.claude-3-haiku-20240307-v1:0')).toMatchObject({ geography: 'us-gov' });
  });

  it('recognises global profiles', () => {
    expect(classifyModelId('global.anthropic.claude-sonnet-4-5-20250929-v1:0')).toEqual({
      kind: 'global-profile',
      foundationModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
    });
  });

  it('passes full ARNs through', () => {
    expect(classifyModelId('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc')).toEqual({ kind: 'arn' });
  });

  it('refuses a profile for a geography it does not know instead of granting the wrong thing', () => {
    expect(() => classifyModelId('mars.anthropic.claude-x-v1:0')).toThrow(UnknownInferenceProfileError);
    expect(() => classifyModelId('mars.anthropic.claude-x-v1:0')).toThrow(/lib\/bedrock-arns\.ts/);
  });
});

describe('Function: bedrockResourceArnsFor', () => {
  it('grants a foundation model in the provider region only', () => {
    expect(bedrockResourceArnsFor({ region: 'eu-west-1', modelId: 'amazon.nova-lite-v1:0' }, ctx)).toEqual([
      'arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0',
    ]);
  });

  it('grants a US profile plus the model in every US destination region', () => {
    expect(bedrockResourceArnsFor({ region: 'us-east-1', modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' }, ctx)).toEqual([
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:aws:bedrock:us-west-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
      'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
    ]);
  });

  it('puts the profile in the source region and covers every EU destination', () => {
    const arns = bedrockResourceArnsFor({ region: 'eu-central-1', modelId: 'eu.amazon.nova-lite-v1:0' }, ctx);
    expect(arns[0]).toBe('arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0');
    for (const region of ['eu-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-north-1', 'eu-south-1', 'eu-south-2']) {
      expect(arns).toContain(`arn:aws:bedrock:${region}::foundation-model/amazon.nova-lite-v1:0`);
    }
    expect(arns.every((a) => !a.includes('us-'))).toBe(true);
  });

  it('adds the source region even when a geography list does not name it', () => {
    const arns = bedrockResourceArnsFor({ region: 'ap-southeast-6', modelId: 'apac.amazon.nova-lite-v1:0' }, ctx);
    expect(arns).toContain('arn:aws:bedrock:ap-southeast-6::foundation-model/amazon.nova-lite-v1:0');
    expect(arns).toHaveLength(1 + GEOGRAPHY_DESTINATION_REGIONS.apac.length + 1);
  });

  it('grants a global profile, the model in the source region and the region-less global model ARN', () => {
    expect(
      bedrockResourceArnsFor({ region: 'us-west-2', modelId: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0' }, ctx),
    ).toEqual([
      'arn:aws:bedrock:us-west-2:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
      'arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
    ]);
  });

  it('uses the given partition (GovCloud, China)', () => {
    expect(bedrockResourceArnsFor({ region: 'us-gov-west-1', modelId: 'amazon.nova-lite-v1:0' }, { ...ctx, partition: 'aws-us-gov' })).toEqual([
      'arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.nova-lite-v1:0',
    ]);
  });

  it('passes an application inference profile ARN through unchanged', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3';
    expect(bedrockResourceArnsFor({ region: 'us-east-1', modelId: arn }, ctx)).toEqual([arn]);
  });

  it('never produces a wildcard', () => {
    const ids = ['amazon.nova-lite-v1:0', 'global.amazon.nova-lite-v1:0', ...Object.keys(GEOGRAPHY_DESTINATION_REGIONS).map((g) => `${g}.amazon.nova-lite-v1:0`)];
    const arns = bedrockResourceArns(ids.map((modelId) => ({ region: 'us-east-1', modelId })), ctx);
    expect(arns.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('Function: bedrockResourceArns', () => {
  it('deduplicates across targets and sorts', () => {
    const arns = bedrockResourceArns(
      [
        { region: 'us-east-1', modelId: 'amazon.nova-lite-v1:0' },
        { region: 'us-east-1', modelId: 'amazon.nova-lite-v1:0' },
        { region: 'us-east-1', modelId: 'us.amazon.nova-lite-v1:0' },
      ],
      ctx,
    );
    expect(arns).toEqual([...new Set(arns)].sort());
    expect(arns.filter((a) => a === 'arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0')).toHaveLength(1);
  });

  it('returns nothing for no Bedrock targets', () => {
    expect(bedrockResourceArns([], ctx)).toEqual([]);
  });
});
