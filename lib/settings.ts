/**
 * Settings the infrastructure derives from the validated Tollgate config. Pure functions, so constructs
 * stay declarative and the derivations are tested without synthesizing anything.
 */
import { allTargets } from '../lambda/core/experiments';
import type { TollgateConfig } from '../lambda/core/config';
import type { BedrockTarget } from './bedrock-arns';

export type { TollgateConfig };

export const DEFAULT_STACK_NAME = 'Tollgate';

/** Provider ids that need an API key: the field names of the provider-keys secret, sorted. */
export function providerSecretFields(config: TollgateConfig): string[] {
  return Object.entries(config.providers)
    .filter(([, p]) => p.kind !== 'bedrock' && p.apiKey !== undefined)
    .map(([id]) => id)
    .sort();
}

/** Every (region, model) the config can route to on a Bedrock provider, deduplicated. */
export function bedrockTargets(config: TollgateConfig): BedrockTarget[] {
  const seen = new Map<string, BedrockTarget>();
  for (const model of Object.values(config.models)) {
    for (const target of allTargets(model)) {
      const provider = config.providers[target.provider];
      if (provider?.kind !== 'bedrock') continue;
      seen.set(`${provider.region} ${target.model}`, { region: provider.region, modelId: target.model });
    }
  }
  return [...seen.values()];
}

/** The stack name: CDK context `stackName`, else TOLLGATE_STACK_NAME, else `Tollgate`. */
export function resolveStackName(contextValue: unknown, env: Readonly<Record<string, string | undefined>>): string {
  const name = (typeof contextValue === 'string' && contextValue) || env.TOLLGATE_STACK_NAME || DEFAULT_STACK_NAME;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(name)) {
    throw new Error(`Invalid stack name '${name}': letters, digits and dashes, starting with a letter.`);
  }
  return name;
}
