/**
 * What a model can do, for `tollgate insights` to propose only like-for-like replacements: a cheaper model
 * must take at least the same context and support tools, images and reasoning wherever the current one
 * does. Where it comes from, first that knows wins:
 *   1. config `insights.capabilities`, by `provider/model` price key (everything);
 *   2. the price catalog (@pydantic/genai-prices, core/price-catalog.ts) for the context window: it is the
 *      one capability the catalog records, and the one that changes most between model versions;
 *   3. the hand table below (values from the providers' model pages, checked 2026-12-01) for tools, vision
 *      and reasoning, and for the context window of a model the catalog has none for. First matching
 *      pattern wins; patterns match anywhere in the model id, so Bedrock ids and cross-region profiles
 *      match the provider's own entry.
 * A model only the catalog knows has a context window and unknown features (`featuresKnown: false`):
 * proposed only in place of a model that uses none of them, and never replaced by one that may lack them.
 */
export interface ModelCapabilities {
  contextWindow: number;
  tools: boolean;
  vision: boolean;
  reasoning: boolean;
  /** false: tools, vision and reasoning are not known (the catalog knew only the context window). */
  featuresKnown?: false;
}

const TABLE: ReadonlyArray<readonly [RegExp, ModelCapabilities]> = [
  [/claude-(sonnet|opus)-4|claude-(sonnet|haiku)-4-5/, { contextWindow: 200_000, tools: true, vision: true, reasoning: true }],
  [/claude-3-5-haiku/, { contextWindow: 200_000, tools: true, vision: false, reasoning: false }],
  [/^gpt-4o/, { contextWindow: 128_000, tools: true, vision: true, reasoning: false }],
  [/^gpt-4\.1/, { contextWindow: 1_047_576, tools: true, vision: true, reasoning: false }],
  [/^gpt-5/, { contextWindow: 400_000, tools: true, vision: true, reasoning: true }],
  [/amazon\.nova-lite-v1/, { contextWindow: 300_000, tools: true, vision: true, reasoning: false }],
  [/amazon\.nova-micro-v1/, { contextWindow: 128_000, tools: true, vision: false, reasoning: false }],
  [/amazon\.nova-pro-v1/, { contextWindow: 300_000, tools: true, vision: true, reasoning: false }],
  [/gemini-2\.5-(flash|pro)/, { contextWindow: 1_048_576, tools: true, vision: true, reasoning: true }],
  [/^mistral-small/, { contextWindow: 128_000, tools: true, vision: true, reasoning: false }],
  [/^deepseek-chat$/, { contextWindow: 128_000, tools: true, vision: false, reasoning: false }],
  [/^deepseek-reasoner$/, { contextWindow: 128_000, tools: false, vision: false, reasoning: true }],
];

/**
 * Capabilities of `provider/model` (a price key): config overrides first, then the catalog's context
 * window (`catalogContextWindow`, undefined when the catalog has none) with the table's features.
 */
export function capabilitiesOf(
  priceKey: string,
  overrides: Readonly<Record<string, ModelCapabilities>> = {},
  catalogContextWindow?: number,
): ModelCapabilities | undefined {
  if (Object.hasOwn(overrides, priceKey)) return overrides[priceKey];
  const model = priceKey.slice(priceKey.indexOf('/') + 1).toLowerCase();
  const known = TABLE.find(([pattern]) => pattern.test(model))?.[1];
  if (known) return catalogContextWindow === undefined ? known : { ...known, contextWindow: catalogContextWindow };
  if (catalogContextWindow === undefined) return undefined;
  return { contextWindow: catalogContextWindow, tools: false, vision: false, reasoning: false, featuresKnown: false };
}

/**
 * `candidate` can replace `current`: at least its context, and every feature it has. Unknown features
 * count against the model: a candidate's as absent, the current model's as present.
 */
export function canReplace(candidate: ModelCapabilities, current: ModelCapabilities): boolean {
  const has = (c: ModelCapabilities, f: 'tools' | 'vision' | 'reasoning', unknown: boolean) => (c.featuresKnown === false ? unknown : c[f]);
  return (
    candidate.contextWindow >= current.contextWindow &&
    (['tools', 'vision', 'reasoning'] as const).every((f) => has(candidate, f, false) || !has(current, f, true))
  );
}
