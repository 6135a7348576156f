/**
 * Tollgate's one configuration, validated once with zod. Read from `tollgate.config.json` (or the file
 * named by TOLLGATE_CONFIG) by the local server and the CDK app; the CDK app bakes the validated JSON
 * into the Lambda bundle, so the function never reads a file at run time.
 */
import { z } from 'zod';

const providerId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'provider ids are lowercase letters, digits and dashes');

const apiKeySource = z.strictObject({
  /** Local server: the environment variable holding the key. In AWS the key is the field named after the provider id in the stack's provider-keys secret. */
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
});

const openaiCompatibleProvider = z.strictObject({
  kind: z.literal('openai-compatible'),
  baseUrl: z.url(),
  apiKey: apiKeySource.optional(),
  /** Extra headers sent upstream (never secrets: those go in apiKey). */
  headers: z.record(z.string(), z.string()).optional(),
});
const anthropicProvider = z.strictObject({
  kind: z.literal('anthropic'),
  baseUrl: z.url().default('https://api.anthropic.com'),
  apiKey: apiKeySource,
  version: z.string().default('2023-06-01'),
});
const bedrockProvider = z.strictObject({
  kind: z.literal('bedrock'),
  region: z.string().min(1),
  /** Only for tests and VPC endpoints; normally the SDK's regional endpoint. */
  endpoint: z.url().optional(),
});
const providerSchema = z.discriminatedUnion('kind', [openaiCompatibleProvider, anthropicProvider, bedrockProvider]);
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ProviderKind = ProviderConfig['kind'];

const targetSchema = z.strictObject({
  provider: providerId,
  /** The upstream's model id (Bedrock: a foundation model id or an inference profile id like `us.anthropic...`). */
  model: z.string().min(1),
  /** Time allowed until the first byte (streaming) or the whole response (non-streaming). */
  timeoutMs: z.number().int().positive().default(60_000),
  /** Extra attempts on this same target before falling back, with jittered exponential backoff. */
  retries: z.number().int().min(0).max(5).default(0),
});
export type TargetConfig = z.infer<typeof targetSchema>;

const modelSchema = z.strictObject({
  targets: z.array(targetSchema).min(1),
  /** Output-token ceiling used to price the worst case when the client sends no max_tokens. */
  maxOutputTokens: z.number().int().positive().default(8192),
  description: z.string().optional(),
});
export type ModelConfig = z.infer<typeof modelSchema>;

/** USD per million tokens. */
const priceSchema = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cacheRead: z.number().nonnegative().optional(),
  cacheWrite: z.number().nonnegative().optional(),
});
export type PriceConfig = z.infer<typeof priceSchema>;

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    providers: z.record(providerId, providerSchema),
    /** Model aliases clients send as `model`. `provider/model` addressing works for any configured provider too. */
    models: z.record(z.string().min(1), modelSchema),
    /** Overrides and additions to the built-in price catalog, keyed `provider/model` (upstream model id). */
    pricing: z.record(z.string(), priceSchema).default({}),
    server: z
      .strictObject({
        maxBodyBytes: z.number().int().positive().default(1_048_576),
        retryBaseDelayMs: z.number().int().nonnegative().default(200),
        /** Allow `provider/model` addressing for models not listed under `models`. */
        allowDirectProviderModels: z.boolean().default(true),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    for (const [alias, model] of Object.entries(cfg.models)) {
      model.targets.forEach((t, i) => {
        if (!cfg.providers[t.provider]) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', alias, 'targets', i, 'provider'],
            message: `unknown provider '${t.provider}'`,
          });
        }
      });
    }
  });

export type TollgateConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Parse and validate; throws ConfigError with every problem listed by path. */
export function parseConfig(input: unknown): TollgateConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new ConfigError(`Invalid Tollgate config:\n${problems}`);
  }
  return result.data;
}
