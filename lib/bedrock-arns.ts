/**
 * The exact Bedrock resource ARNs the gateway function may invoke, derived from the config's Bedrock
 * targets. Pure (no CDK imports) so the mapping is unit-tested on its own; partition and account come in
 * as strings, which the stack passes as CloudFormation tokens.
 *
 * A model id is one of:
 *  - a foundation model id (`amazon.nova-lite-v1:0`): the model in the provider's region;
 *  - a geographic cross-region inference profile id (`us.anthropic...`, `eu.`, `apac.`, ...): the profile
 *    in the source region, plus the foundation model in the source region and in every destination region
 *    the geography routes to (Bedrock checks the caller's permission on the model where it runs);
 *  - a global inference profile id (`global.anthropic...`): the profile in the source region, the model in
 *    the source region, and the region-less `arn:<partition>:bedrock:::foundation-model/<id>`;
 *  - a full ARN (application inference profile, provisioned throughput): granted as written.
 *
 * See https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html and
 * .../global-cross-region-inference.html ("IAM policy requirements").
 */

/**
 * Destination regions per geography prefix: the union over the geography's system-defined profiles, so
 * one list covers every model. A region too many is harmless (the grant stays per model id); a region too
 * few is an AccessDenied that only shows when Bedrock happens to route there, under load. Update this list
 * when AWS adds destination regions to a geography.
 */
export const GEOGRAPHY_DESTINATION_REGIONS: Readonly<Record<string, readonly string[]>> = {
  us: ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'],
  'us-gov': ['us-gov-east-1', 'us-gov-west-1'],
  eu: ['eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3'],
  apac: [
    'ap-east-2',
    'ap-northeast-1',
    'ap-northeast-2',
    'ap-northeast-3',
    'ap-south-1',
    'ap-south-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-southeast-3',
    'ap-southeast-4',
    'ap-southeast-5',
    'ap-southeast-7',
    'me-central-1',
  ],
  jp: ['ap-northeast-1', 'ap-northeast-3'],
  au: ['ap-southeast-2', 'ap-southeast-4'],
  ca: ['ca-central-1', 'ca-west-1'],
};

export const GLOBAL_PREFIX = 'global';

/** The IAM actions the gateway needs: Converse authorizes as InvokeModel, ConverseStream as InvokeModelWithResponseStream. */
export const BEDROCK_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;

export interface BedrockTarget {
  /** The region the gateway calls Bedrock in (the provider's `region`): the source region for profiles. */
  readonly region: string;
  /** The target's `model` as written in the config. */
  readonly modelId: string;
}

export interface ArnContext {
  readonly partition: string;
  readonly account: string;
}

export type ModelIdKind =
  | { kind: 'arn' }
  | { kind: 'foundation-model' }
  | { kind: 'geographic-profile'; geography: string; foundationModelId: string }
  | { kind: 'global-profile'; foundationModelId: string };

export class UnknownInferenceProfileError extends Error {}

/** Classify a Bedrock model id. Throws on an id that looks like a profile of a geography this module does not know. */
export function classifyModelId(modelId: string): ModelIdKind {
  if (modelId.startsWith('arn:')) return { kind: 'arn' };
  const [head, ...rest] = modelId.split(':')[0].split('.');
  // Foundation model ids are `<provider>.<model>`; profile ids put one more segment, the geography, in front.
  if (rest.length < 2) return { kind: 'foundation-model' };
  const foundationModelId = modelId.slice(head.length + 1);
  if (head === GLOBAL_PREFIX) return { kind: 'global-profile', foundationModelId };
  if (GEOGRAPHY_DESTINATION_REGIONS[head]) return { kind: 'geographic-profile', geography: head, foundationModelId };
  throw new UnknownInferenceProfileError(
    `Bedrock model '${modelId}' looks like an inference profile for geography '${head}', which lib/bedrock-arns.ts ` +
      `does not know; add its destination regions there so the function is granted exactly what it needs.`,
  );
}

function foundationModelArn(ctx: ArnContext, region: string, id: string): string {
  return `arn:${ctx.partition}:bedrock:${region}::foundation-model/${id}`;
}

function inferenceProfileArn(ctx: ArnContext, region: string, id: string): string {
  return `arn:${ctx.partition}:bedrock:${region}:${ctx.account}:inference-profile/${id}`;
}

/** The resource ARNs one target needs, in a stable order. */
export function bedrockResourceArnsFor(target: BedrockTarget, ctx: ArnContext): string[] {
  const id = target.modelId;
  const kind = classifyModelId(id);
  switch (kind.kind) {
    case 'arn':
      return [id];
    case 'foundation-model':
      return [foundationModelArn(ctx, target.region, id)];
    case 'global-profile':
      return [
        inferenceProfileArn(ctx, target.region, id),
        foundationModelArn(ctx, target.region, kind.foundationModelId),
        `arn:${ctx.partition}:bedrock:::foundation-model/${kind.foundationModelId}`,
      ];
    case 'geographic-profile': {
      const regions = new Set([target.region, ...GEOGRAPHY_DESTINATION_REGIONS[kind.geography]]);
      return [
        inferenceProfileArn(ctx, target.region, id),
        ...[...regions].sort().map((r) => foundationModelArn(ctx, r, kind.foundationModelId)),
      ];
    }
  }
}

/** All ARNs for a set of targets, deduplicated and sorted (stable templates, no diff churn). */
export function bedrockResourceArns(targets: readonly BedrockTarget[], ctx: ArnContext): string[] {
  return [...new Set(targets.flatMap((t) => bedrockResourceArnsFor(t, ctx)))].sort();
}
