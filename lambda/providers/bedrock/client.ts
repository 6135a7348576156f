/**
 * The Bedrock runtime client, built once per container. IAM auth comes from the default credential chain
 * (the Lambda role) unless credentials are injected (tests).
 *
 * Transport: HTTP/1.1 with keep-alive (NodeHttpHandler), not the SDK's default HTTP/2 handler. For Bedrock
 * the SDK's h2 handler opens an isolated session per request (`disableConcurrentStreams`, and always for
 * event streams), i.e. a fresh TLS handshake per call; pooled keep-alive sockets are cheaper in a warm
 * Lambda, ConverseStream streams fine over HTTP/1.1, and abort destroys exactly one socket. It also lets
 * the test double be a plain node:http server.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { bedrockSdk, httpHandlers } from './sdk';

export interface BedrockSettings {
  region: string;
  /** Only for tests and VPC endpoints; normally the SDK's regional endpoint. */
  endpoint?: string;
}

export interface BedrockCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface BedrockClientOptions {
  /** Static credentials (tests); by default the SDK's credential chain (Lambda role, env, profile). */
  credentials?: BedrockCredentials;
  /** Sockets per container towards Bedrock. */
  maxSockets?: number;
  /** TCP/TLS connect timeout; the router's per-target timeout covers the rest. */
  connectionTimeoutMs?: number;
}

export function createBedrockClient(settings: BedrockSettings, opts: BedrockClientOptions = {}): BedrockRuntimeClient {
  const maxSockets = opts.maxSockets ?? 64;
  const sdk = bedrockSdk();
  const { BedrockRuntimeClient: Client } = sdk;
  // In the Lambda bundle the Bedrock client's chunk hands out its own copy's handler (lib/lazy-chunks.ts),
  // so a first Bedrock call loads one chunk; from the sources (and any other layout), the package's.
  const NodeHttpHandler = (sdk as { NodeHttpHandler?: ReturnType<typeof httpHandlers>['NodeHttpHandler'] }).NodeHttpHandler ?? httpHandlers().NodeHttpHandler;
  return new Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // The router owns retries and fallback; SDK retries would hide a throttled target behind long waits.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: opts.connectionTimeoutMs ?? 5000,
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    }),
  });
}
