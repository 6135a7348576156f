/**
 * Tollgate's one configuration, validated once with zod. Read from `tollgate.config.json` (or the file
 * named by TOLLGATE_CONFIG) by the local server and the CDK app; the CDK app bakes the validated JSON
 * into the Lambda bundle, so the function never reads a file at run time.
 */
import * as z from 'zod';
import { allTargets } from './experiments';
import { modelNameSchema } from './model-name';
import { priceFor } from './pricing';

const providerId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'provider ids are lowercase letters, digits and dashes');

const apiKeySource = z.strictObject({
  /** Local server: the environment variable holding the key. In AWS the key is the field named after the provider id in the stack's provider-keys secret. */
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
});

/**
 * Opt-in: serve this provider's models that no price is known for (config.pricing or the catalog) and
 * meter them at $0, counting each in the UnpricedRequests metric (alarmed). Off: such a request is refused
 * with 400 model_not_priced before any upstream call. A mock (no upstream bill) defaults to on.
 */
const meterUnpricedAtZero = z.boolean().optional();

const openaiCompatibleProvider = z.strictObject({
  kind: z.literal('openai-compatible'),
  meterUnpricedAtZero,
  baseUrl: z.url(),
  apiKey: apiKeySource.optional(),
  /** Extra headers sent upstream (never secrets: those go in apiKey). */
  headers: z.record(z.string(), z.string()).optional(),
  /** Field the output cap goes in when the client names none (default: by host, see providers/openai-compatible/api.ts). */
  maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
  /** The host serves OpenAI's Responses API (`POST {baseUrl}/responses`): /v1/responses is passed through to it natively. */
  responsesApi: z.boolean().optional(),
});
const anthropicProvider = z.strictObject({
  kind: z.literal('anthropic'),
  meterUnpricedAtZero,
  baseUrl: z.url().default('https://api.anthropic.com'),
  apiKey: apiKeySource,
  version: z.string().default('2023-06-01'),
});
const bedrockProvider = z.strictObject({
  kind: z.literal('bedrock'),
  meterUnpricedAtZero,
  region: z.string().min(1),
  /** Only for tests and VPC endpoints; normally the SDK's regional endpoint. */
  endpoint: z.url().optional(),
});
/** In-process upstream with deterministic answers and no network (lambda/providers/mock): demos and load tests. */
const mockProvider = z.strictObject({
  kind: z.literal('mock'),
  meterUnpricedAtZero,
  /** The provider whose catalog prices this mock's targets are billed at: model `gpt-4o-mini` with `openai` costs what openai/gpt-4o-mini does. */
  priceAs: providerId.optional(),
  ttftMs: z.number().int().min(0).max(60_000).default(200),
  tokensPerSecond: z.number().positive().max(100_000).default(80),
  /** Typical answer length in tokens (each answer varies ±25% by request, and stops at max_tokens). */
  answerTokens: z.number().int().positive().max(100_000).default(60),
  /** Share of requests (chosen by the request's hash, so repeatable) answered 503; routing falls back on them. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Accepted and ignored, so a real provider's block becomes a mock by changing only `kind`. */
  apiKey: apiKeySource.optional(),
});
const providerSchema = z.discriminatedUnion('kind', [openaiCompatibleProvider, anthropicProvider, bedrockProvider, mockProvider]);
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ProviderKind = ProviderConfig['kind'];

const targetSchema = z.strictObject({
  provider: providerId,
  /** The upstream's model id (Bedrock: a foundation model id or an inference profile id like `us.anthropic...`). */
  model: modelNameSchema,
  /** Time allowed until the first byte (streaming) or the whole response (non-streaming). */
  timeoutMs: z.number().int().positive().default(60_000),
  /** Extra attempts on this same target before falling back, with jittered exponential backoff. */
  retries: z.number().int().min(0).max(5).default(0),
});
export type TargetConfig = z.infer<typeof targetSchema>;

/** Splits an alias's traffic between arms by weight (core/experiments.ts); an arm without targets uses the alias's own. */
const experimentSchema = z.strictObject({
  arms: z
    .array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), weight: z.number().positive(), targets: z.array(targetSchema).min(1).optional() }))
    .min(2),
  /** `customer`: a customer named by the request always gets the same arm; `request` (default): each request is drawn. */
  sticky: z.enum(['request', 'customer']).default('request'),
});

const modelSchema = z.strictObject({
  targets: z.array(targetSchema).min(1),
  /**
   * Output-token ceiling per choice: caps what the client may ask for and is what a request without
   * max_tokens gets. Omitted: the model's real maximum (core/model-limits.ts). Never above that maximum
   * (clamped per target). Whatever results is reserved for AND sent upstream (core/output-cap.ts).
   */
  maxOutputTokens: z.number().int().positive().optional(),
  experiment: experimentSchema.optional(),
  description: z.string().optional(),
  /** What the alias serves (chat surfaces or /v1/embeddings); omitted: from its targets' model ids (core/model-mode.ts). */
  mode: z.enum(['chat', 'embeddings']).optional(),
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

const meteringSchema = z
  .strictObject({
    /** Per-request usage records expire (DynamoDB TTL) after this many days; rollups are kept. */
    requestRecordTtlDays: z.number().int().positive().default(90),
    /** Key lookups are cached per container this long; revocation takes effect within it. */
    keyCacheSeconds: z.number().int().min(0).max(300).default(30),
    /** Shards of the global budget counter, so it is not one hot item (~1,000 writes/s each). */
    globalBudgetShards: z.number().int().min(1).max(100).default(10),
  })
  .prefault({});
export type MeteringConfig = z.infer<typeof meteringSchema>;

const alertsSchema = z
  .strictObject({
    /** Email addresses subscribed to the stack's alert topic (each must confirm the subscription). */
    emails: z.array(z.email()).default([]),
    /** Alarm when gateway spend in one hour exceeds this many USD. */
    spendPerHourUsd: z.number().positive().optional(),
    /** Alarm when gateway spend in one day exceeds this many USD. */
    spendPerDayUsd: z.number().positive().optional(),
    /** CloudWatch anomaly detection band width (standard deviations) on hourly spend; 0 turns it off. */
    spendAnomalyBand: z.number().min(0).default(2),
    errorRatePercent: z.number().positive().max(100).default(5),
    throttleRatePercent: z.number().positive().max(100).default(10),
    fallbackRatePercent: z.number().positive().max(100).default(20),
    /** Budget utilisation thresholds (percent) that notify once per budget, threshold and period. */
    budgetThresholdsPercent: z.array(z.number().positive().max(1000)).default([50, 80, 100]),
  })
  .prefault({});
export type AlertsConfig = z.infer<typeof alertsSchema>;

const observabilitySchema = z
  .strictObject({
    namespace: z.string().min(1).default('Tollgate'),
    /** Extra metric dimension sets beyond model+provider; each combination is a billed custom metric. */
    featureDimension: z.boolean().default(true),
    teamDimension: z.boolean().default(true),
    /** Budgets shown on the dashboard's utilisation widget, as `scope:id:period`, e.g. `team:search:month`. */
    watchedBudgets: z.array(z.string().regex(/^(key|team|customer|feature|global):[^:]*:(day|month)$/)).default([]),
  })
  .prefault({});
export type ObservabilityConfig = z.infer<typeof observabilitySchema>;

const deploymentSchema = z
  .strictObject({
    memoryMb: z.number().int().min(128).max(10240).default(1024),
    /**
     * Lambda timeout and API Gateway integration timeout for long generations (streaming allows up to 15 min).
     * Independently, API Gateway closes a streamed response after 5 minutes without a byte (the idle limit);
     * server.sseKeepAliveMs keeps SSE answers under it, a non-streamed answer must complete within it.
     */
    timeoutSeconds: z.number().int().min(30).max(900).default(300),
    logRetentionDays: z.number().int().positive().default(30),
    stageName: z.string().regex(/^[A-Za-z0-9_]+$/).default('prod'),
    /** Stage-wide API Gateway throttling, a coarse guard in front of per-key limits. */
    throttleRateLimit: z.number().positive().default(500),
    throttleBurstLimit: z.number().int().positive().default(1000),
  })
  .prefault({});
export type DeploymentConfig = z.infer<typeof deploymentSchema>;

/** `tollgate insights`: which models may be proposed, and what they can do (lambda/core/model-capabilities.ts). */
const insightsSchema = z
  .strictObject({
    /** Price keys (`provider/model`) that may be proposed; default: every priced model of a configured provider. */
    candidates: z.array(z.string().min(3)).optional(),
    /** Overrides and additions to the built-in capability table, by price key. */
    capabilities: z
      .record(z.string(), z.strictObject({ contextWindow: z.number().int().positive(), tools: z.boolean(), vision: z.boolean(), reasoning: z.boolean() }))
      .default({}),
  })
  .prefault({});
export type InsightsConfig = z.infer<typeof insightsSchema>;

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
        /**
         * A streamed answer gets an SSE comment (`: keep-alive`) after this long without a byte, while the
         * first token is awaited and between chunks (API Gateway cuts a stream after 5 minutes of silence).
         * The first chunk is awaited this long before the 200 and SSE headers are committed.
         */
        sseKeepAliveMs: z.number().int().positive().default(15_000),
        /** A stream whose upstream sends nothing this long between chunks ends with an error event (504). */
        streamStallTimeoutMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    metering: meteringSchema,
    alerts: alertsSchema,
    observability: observabilitySchema,
    deployment: deploymentSchema,
    insights: insightsSchema,
  })
  .superRefine((cfg, ctx) => {
    for (const [alias, model] of Object.entries(cfg.models)) {
      const checkProvider = (t: TargetConfig, path: Array<string | number>) => {
        if (!Object.hasOwn(cfg.providers, t.provider)) ctx.addIssue({ code: 'custom', path, message: `unknown provider '${t.provider}'` });
      };
      model.targets.forEach((t, i) => checkProvider(t, ['models', alias, 'targets', i, 'provider']));
      model.experiment?.arms.forEach((arm, a) => {
        arm.targets?.forEach((t, i) => checkProvider(t, ['models', alias, 'experiment', 'arms', a, 'targets', i, 'provider']));
        if (model.experiment!.arms.findIndex((o) => o.name === arm.name) !== a) {
          ctx.addIssue({ code: 'custom', path: ['models', alias, 'experiment', 'arms', a, 'name'], message: `duplicate arm '${arm.name}'` });
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
  return withMockPrices(result.data);
}

/**
 * A mock provider with `priceAs` bills its targets as the real model: `<mock>/<model>` gets the price of
 * `<priceAs>/<model>` unless config.pricing names one itself.
 */
function withMockPrices(config: TollgateConfig): TollgateConfig {
  const pricing = { ...config.pricing };
  for (const model of Object.values(config.models)) {
    for (const t of allTargets(model)) {
      const p = config.providers[t.provider];
      const key = `${t.provider}/${t.model}`;
      if (p?.kind !== 'mock' || !p.priceAs || Object.hasOwn(pricing, key)) continue;
      const price = priceFor(config, p.priceAs, t.model);
      if (price) pricing[key] = price;
    }
  }
  return { ...config, pricing };
}
