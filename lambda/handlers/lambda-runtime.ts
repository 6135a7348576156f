/**
 * Everything the Lambda handler needs, built once per container from its environment: the only place the
 * function reads process.env. Kept apart from gateway.ts so tests can build it with their own endpoints.
 */
import { composeGateway, type GatewayRuntime } from '../app/compose';
import { cachedSecretJson, LeanSecretsReader, leanSecretsSettingsFromEnv, type SecretsEnv } from '../app/lean-secrets';
import { secretProviderKeys, type ProviderKeySource } from '../app/provider-keys';
import { createTelemetry, type Telemetry } from '../app/telemetry';
import type { BudgetAlertSink } from '../core/budgets';
import type { TollgateConfig } from '../core/config';
import { deferTokenizerLoad } from '../core/token-estimate';
import { createAdapters, type AdapterOptions } from '../providers/registry';
import { dynamoSockets } from '../store/dynamo';
import { LeanDynamoClient, leanSdk, leanSettingsFromEnv, type AwsEnv, type StoreClient } from '../store/lean-client';
import type { SettlementMessage, SettlementOutbox } from '../store/settlement';
import type { DynamoGatekeeperOptions } from '../store/dynamo-gatekeeper';

/** Provider keys are re-read from Secrets Manager at most this often: a filled-in key works within 5 minutes. */
const PROVIDER_SECRET_MAX_AGE_SECONDS = 300;

declare const __TOLLGATE_CONFIG__: string | undefined;

export interface LambdaEnv {
  /** The stack name (set by the stack): the metrics' `Service` dimension, so two stacks' series stay apart. */
  POWERTOOLS_SERVICE_NAME?: string;
  TOLLGATE_KEYS_TABLE?: string;
  TOLLGATE_LEDGER_TABLE?: string;
  TOLLGATE_PROVIDER_SECRET_ARN?: string;
  TOLLGATE_ALERT_TOPIC_ARN?: string;
  /** The settlement outbox (SQS): settlements the table could not take in time go here. */
  TOLLGATE_OUTBOX_QUEUE_URL?: string;
  /** Only when the config is not baked into the bundle (tests). */
  TOLLGATE_CONFIG_JSON?: string;
  AWS_REGION?: string;
}

export interface LambdaRuntimeOverrides {
  config?: TollgateConfig;
  dynamo?: StoreClient;
  providerKeys?: ProviderKeySource;
  adapterOptions?: AdapterOptions;
  telemetry?: Telemetry;
  outbox?: SettlementOutbox;
  settleRetryMs?: number;
  /** false: per-request reservations; an object: these lease options instead of Lambda's (bench comparisons). */
  admissionLeases?: false | DynamoGatekeeperOptions['admissionLeases'];
}

/**
 * How much of a hard budget's headroom a Lambda container's lease holds between invocations: one of the
 * largest worst case among its latest 8 requests. The next request like it is admitted from memory (no store round trip
 * before the upstream call); a frozen or idle container parks no more than that, where a lease sized by the
 * recent rate parked ~2 s of it (1.6 worst cases after one 100-token request, more after a burst), which
 * near the cap refused requests other containers could have served until Lambda retired the container.
 */
export const LAMBDA_KEEP_WORST_CASES = 1;

export interface LambdaRuntime extends GatewayRuntime {
  telemetry: Telemetry;
}

/**
 * The config the CDK app validated and baked into the bundle (esbuild `define`), or TOLLGATE_CONFIG_JSON.
 * The baked one is parseConfig's own output (defaults filled in), serialised at synth: it is not parsed
 * again here, which keeps zod's schema walk (10-25 ms) out of every cold start. The config schema itself
 * (core/config.ts builds it at module load, ~15 ms of zod) is required only on the unbaked path.
 */
export function bakedConfig(env: LambdaEnv): TollgateConfig {
  if (typeof __TOLLGATE_CONFIG__ === 'string') return JSON.parse(__TOLLGATE_CONFIG__) as TollgateConfig;
  const raw = env.TOLLGATE_CONFIG_JSON;
  if (!raw) throw new Error('No Tollgate config: the bundle has none baked in and TOLLGATE_CONFIG_JSON is not set');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseConfig } = require('../core/config') as typeof import('../core/config');
  return parseConfig(JSON.parse(raw));
}

/**
 * The SNS client is loaded on first use (a threshold alert), not at init: a cold start does not run its
 * module set-up (provider keys need no SDK client at all: providerSecret below).
 */
function lazySnsAlertSink(topicArn: string): BudgetAlertSink {
  let sink: Promise<BudgetAlertSink> | undefined;
  return {
    async budgetThresholdCrossed(event) {
      sink ??= Promise.all([import('@aws-sdk/client-sns'), import('../store/sns-alert-sink')]).then(
        ([{ SNSClient }, { SnsAlertSink }]) => new SnsAlertSink({ client: new SNSClient({}), topicArn }),
      );
      await (await sink).budgetThresholdCrossed(event);
    },
  };
}

/** The SQS outbox, its client loaded on first use (rare: only when the ledger could not take a settlement). */
function lazySqsOutbox(queueUrl: string): SettlementOutbox {
  let outbox: Promise<SettlementOutbox> | undefined;
  return {
    async put(message: SettlementMessage) {
      outbox ??= Promise.all([import('@aws-sdk/client-sqs'), import('../store/sqs-outbox')]).then(([{ SQSClient }, { SqsOutbox }]) => new SqsOutbox(new SQSClient({}), queueUrl));
      await (await outbox).put(message);
    },
  };
}

/**
 * The provider-keys secret's JSON, re-read at most every PROVIDER_SECRET_MAX_AGE_SECONDS: by the lean
 * reader (app/lean-secrets.ts: no AWS SDK at init or on the first request), or by Powertools' getSecret
 * (the SDK, loaded then from its chunk) when the environment asks for what only the SDK interprets.
 * The value is never logged.
 */
function providerSecret(env: LambdaEnv & SecretsEnv, secretArn: string): () => Promise<Record<string, unknown>> {
  const settings = leanSecretsSettingsFromEnv(env);
  if (settings) {
    const reader = new LeanSecretsReader(settings);
    // Refreshed ahead in the background, and served for up to an hour past its max age while Secrets Manager
    // cannot be read (one WARN line per failed fetch; its message never holds the value).
    return cachedSecretJson(() => reader.secretString(secretArn), PROVIDER_SECRET_MAX_AGE_SECONDS * 1000, Date.now, {
      onStaleError: (err) => {
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        process.stderr.write(`${JSON.stringify({ level: 'WARN', message: 'provider-keys secret not refreshed: serving the last value read', error })}\n`);
      },
    });
  }
  return async () => {
    // Powertools caches the value per container for maxAge.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { getSecret } = require('@aws-lambda-powertools/parameters/secrets') as typeof import('@aws-lambda-powertools/parameters/secrets');
    const value = await getSecret<Record<string, unknown>>(secretArn, { transform: 'json', maxAge: PROVIDER_SECRET_MAX_AGE_SECONDS });
    return value && typeof value === 'object' ? value : {};
  };
}

function required(env: LambdaEnv, name: keyof LambdaEnv): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set (the stack sets it)`);
  return value;
}

/**
 * The store's DynamoDB client: a lean one from Lambda's environment (region and the role's credentials),
 * which neither loads nor builds the SDK's DynamoDBClient at init; the SDK's client, as before, when the
 * environment asks for what only the SDK interprets (lean-client.ts leanSettingsFromEnv).
 */
export function storeClient(env: LambdaEnv & AwsEnv): StoreClient {
  const sockets = dynamoSockets();
  const settings = leanSettingsFromEnv(env, sockets);
  return settings ? new LeanDynamoClient(settings) : leanSdk().configuredClient(sockets);
}

export function createLambdaRuntime(env: LambdaEnv & SecretsEnv, overrides: LambdaRuntimeOverrides = {}): LambdaRuntime {
  // The tokenizer loads after the first response (gateway.ts), not on a cold container's first request.
  deferTokenizerLoad();
  const config = overrides.config ?? bakedConfig(env);
  const secretArn = env.TOLLGATE_PROVIDER_SECRET_ARN;
  const providerKeys = overrides.providerKeys ?? secretProviderKeys(config, secretArn ? providerSecret(env, secretArn) : async () => ({}));
  const telemetry = overrides.telemetry ?? createTelemetry({ config, service: env.POWERTOOLS_SERVICE_NAME });
  const topicArn = env.TOLLGATE_ALERT_TOPIC_ARN;
  const runtime = composeGateway({
    config,
    dynamo: overrides.dynamo ?? storeClient(env),
    tables: { keys: required(env, 'TOLLGATE_KEYS_TABLE'), ledger: required(env, 'TOLLGATE_LEDGER_TABLE') },
    adapters: createAdapters(config, overrides.adapterOptions),
    providerKeys,
    alertSink: topicArn ? lazySnsAlertSink(topicArn) : undefined,
    telemetry,
    settleRetryMs: overrides.settleRetryMs,
    // A container serves one request at a time and may be frozen between any two, its leases with it: each
    // budget lease is kept at one worst case (LAMBDA_KEEP_WORST_CASES), set by the flush after every invocation.
    admissionLeases: overrides.admissionLeases ?? { keepWorstCases: LAMBDA_KEEP_WORST_CASES },
    outbox: overrides.outbox ?? (env.TOLLGATE_OUTBOX_QUEUE_URL ? lazySqsOutbox(env.TOLLGATE_OUTBOX_QUEUE_URL) : undefined),
  });
  return { ...runtime, telemetry };
}
