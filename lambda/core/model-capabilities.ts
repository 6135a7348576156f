/**
 * What a model can do, for `tollgate insights` to propose only like-for-like replacements: a cheaper model
 * must take at least the same context and support tools, images and reasoning wherever the current one
 * does. Values from the providers' model pages (checked 2026-12-01); config `insights.capabilities`
 * overrides or adds entries by `provider/model` price key. First matching pattern wins; patterns match
 * anywhere in the model id, so Bedrock ids and cross-region profiles match the provider's own entry.
 */
export interface ModelCapabilities {
  contextWindow: number;
  tools: boolean;
  vision: boolean;
  reasoning: boolean;
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

/** Capabilities of `provider/model` (a price key): config overrides first, then the table by model id. */
export function capabilitiesOf(
  priceKey: string,
  overrides: Readonly<Record<string, ModelCapabilities>> = {},
): ModelCapabilities | undefined {
  if (Object.hasOwn(overrides, priceKey)) return overrides[priceKey];
  const model = priceKey.slice(priceKey.indexOf('/') + 1).toLowerCase();
  for (const [pattern, caps] of TABLE) if (pattern.test(model)) return caps;
  return undefined;
}

/** `candidate` can replace `current`: at least its context, and every feature it has. */
export function canReplace(candidate: ModelCapabilities, current: ModelCapabilities): boolean {
  return (
    candidate.contextWindow >= current.contextWindow &&
    (candidate.tools || !current.tools) &&
    (candidate.vision || !current.vision) &&
    (candidate.reasoning || !current.reasoning)
  );
}
