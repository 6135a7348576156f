/**
 * A DynamoDB client for the store that does not build the AWS SDK's DynamoDBClient: region, endpoint and
 * credentials are given (a Lambda function's environment: leanSettingsFromEnv; the local server's embedded
 * store: its own endpoint and credentials), and the lean transport sends with them. The SDK client with
 * the same settings is made on first need only (sdk()): a command the lean path does not cover, middleware
 * someone attaches, and the retry strategy at the first throttled or failed-in-transit call. Requiring and
 * constructing the SDK client was ~40 ms of the gateway's cold start (bench/require-breakdown.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { onFirstUse } from '../core/on-first-use';
import { destroyLeanSockets, v2RetryStrategy, type LeanConnection, type LeanSockets, type LeanTarget } from './lean-dynamo-http';
import type { SigningCredentials } from './lean-sigv4';

export interface LeanDynamoSettings {
  region: string;
  /** A custom endpoint (DynamoDB Local, the embedded store); by default the region's. */
  endpoint?: string;
  credentials: SigningCredentials;
  sockets: LeanSockets;
}


/** The standard AWS partition's region names (the SDK's partitions.json), whose DynamoDB endpoint is `dynamodb.<region>.amazonaws.com`. */
export const AWS_PARTITION_REGION = /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/;

/**
 * Settings the SDK would also read that the lean client does not interpret: when one is set, the store
 * gets the SDK client as before (it honours them), rather than a lean client that might disagree.
 */
export const SDK_ONLY_ENV = [
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_USE_FIPS_ENDPOINT',
  'AWS_USE_DUALSTACK_ENDPOINT',
  'AWS_ACCOUNT_ID',
  'AWS_ACCOUNT_ID_ENDPOINT_MODE',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_RETRY_MODE',
  'AWS_DISABLE_CLOCK_SKEW_CORRECTION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
] as const;

/** The environment a Lambda function runs with, as far as the SDK's DynamoDB client reads it. */
export type AwsEnv = {
  readonly [K in 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN' | 'AWS_ENDPOINT_URL_DYNAMODB' | 'AWS_ENDPOINT_URL' | (typeof SDK_ONLY_ENV)[number]]?: string;
};

/**
 * Region and credentials as Lambda provides them (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN: the SDK's default chain stops at these, its first link), the endpoint as the SDK
 * reads it from the environment (AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL), else the region's; or
 * undefined when the environment asks for anything else (no credentials there, another partition without
 * an endpoint, FIPS or dual-stack, a profile or config file, another retry mode).
 */
export function leanSettingsFromEnv(env: AwsEnv, sockets: LeanSockets): LeanDynamoSettings | undefined {
  const { AWS_REGION: region, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined;
  if (!region || !accessKeyId || !secretAccessKey) return undefined;
  if (!endpoint && !AWS_PARTITION_REGION.test(region)) return undefined;
  if (SDK_ONLY_ENV.some((name) => env[name] !== undefined && env[name] !== '')) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  return { region, endpoint, credentials: { accessKeyId, secretAccessKey, sessionToken }, sockets };
}

/** The SDK side, required on first need (its module loads @aws-sdk/client-dynamodb and lib-dynamodb). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const leanSdk = onFirstUse(() => require('./lean-sdk') as typeof import('./lean-sdk'));

export class LeanDynamoClient {
  readonly connection: LeanConnection;
  private sdkClient: DynamoDBClient | undefined;

  constructor(private readonly settings: LeanDynamoSettings) {
    const target: LeanTarget = {
      region: settings.region,
      url: new URL(settings.endpoint ?? `https://dynamodb.${settings.region}.amazonaws.com`),
      clockSkewCorrection: true,
    };
    const credentials = { ...settings.credentials };
    this.connection = {
      sockets: settings.sockets,
      eagerRetry: false,
      clockOffset: 0,
      target: async () => target,
      credentials: async () => credentials,
      // The SDK client's own strategy (AWS_MAX_ATTEMPTS and DynamoDB's default of 4 attempts included).
      retryStrategy: async () => v2RetryStrategy(await this.sdk().config.retryStrategy()),
    };
  }

  /** The SDK client with these settings, made (and @aws-sdk/client-dynamodb loaded) on the first call. */
  sdk(): DynamoDBClient {
    this.sdkClient ??= leanSdk().sdkClient({ ...this.settings, clockOffset: this.connection.clockOffset });
    return this.sdkClient;
  }

  /** The SDK client if something has needed it already (else nothing to look at or close). */
  sdkIfMade(): DynamoDBClient | undefined {
    return this.sdkClient;
  }

  destroy(): void {
    this.sdkClient?.destroy();
    destroyLeanSockets(this.settings.sockets);
  }
}

/** What the store is given to reach DynamoDB: the SDK's client, or a lean one. */
export type StoreClient = DynamoDBClient | LeanDynamoClient;
