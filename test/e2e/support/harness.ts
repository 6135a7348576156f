/**
 * End-to-end rig: the real local gateway (same composition as `npm start`) on 127.0.0.1, backed by
 * DynamoDB Local, in front of the three provider doubles (real HTTP servers speaking each wire format),
 * driven by the official `openai` client with a real gateway key.
 */
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { parseConfig, type TollgateConfig } from '../../../lambda/core/config';
import { createTelemetry } from '../../../lambda/app/telemetry';
import type { BudgetAlertSink, BudgetThresholdEvent } from '../../../lambda/core/budgets';
import { startLocalGateway, type LocalGateway } from '../../../lambda/local/gateway';
import type { CreateKeyInput } from '../../../lambda/store/key-store';
import { startAnthropicDouble } from '../../doubles/anthropic-double';
import { startBedrockDouble } from '../../doubles/bedrock-double';
import type { UpstreamDouble } from '../../doubles/http-double';
import { startOpenAIDouble } from '../../doubles/openai-double';
import { createTestTables, deleteTestTables, testDynamoClient } from '../../support/dynamodb-local';

export const FAKE_AWS = { accessKeyId: 'AKIDE2E', secretAccessKey: 'e2e-secret' };
/** Random per run, no words in them: any 6-character piece found in a response or a log is a leak. */
export const OPENAI_UPSTREAM_KEY = `fake${randomBytes(14).toString('hex')}`;
export const ANTHROPIC_UPSTREAM_KEY = `fake${randomBytes(14).toString('hex')}`;

export interface Rig {
  gateway: LocalGateway;
  /** `gateway` and the `gateways - 1` others on the same store, each with its own admission leases (as separate processes). */
  gateways: LocalGateway[];
  config: TollgateConfig;
  openai: UpstreamDouble;
  flaky: UpstreamDouble;
  anthropic: UpstreamDouble;
  bedrock: UpstreamDouble;
  alerts: BudgetThresholdEvent[];
  /** stdout lines written while the rig ran (structured logs and EMF). */
  logs: string[];
  newKey(input?: Partial<CreateKeyInput>): Promise<{ apiKey: string; keyId: string }>;
  client(apiKey: string, opts?: { maxRetries?: number; gateway?: LocalGateway }): OpenAI;
  close(): Promise<void>;
}

/** Extra providers, models and prices, given the doubles' URLs (e.g. a second provider on the OpenAI double). */
export type RigExtension = (urls: { openai: string; flaky: string; anthropic: string; bedrock: string }) => {
  providers?: Record<string, unknown>;
  models?: Record<string, unknown>;
  pricing?: Record<string, unknown>;
};

export async function startRig(
  opts: {
    configOverrides?: Record<string, unknown>;
    providerOverrides?: Record<string, Record<string, unknown>>;
    captureLogs?: boolean;
    gateways?: number;
    extend?: RigExtension;
  } = {},
): Promise<Rig> {
  const [openai, flaky, anthropic, bedrock] = await Promise.all([startOpenAIDouble(), startOpenAIDouble(), startAnthropicDouble(), startBedrockDouble()]);
  const extra = opts.extend?.({ openai: openai.url, flaky: flaky.url, anthropic: anthropic.url, bedrock: bedrock.url }) ?? {};
  const config = parseConfig({
    providers: {
      ...extra.providers,
      openai: { kind: 'openai-compatible', baseUrl: `${openai.url}/v1`, apiKey: { env: 'E2E_OPENAI_KEY' }, ...opts.providerOverrides?.openai },
      flaky: { kind: 'openai-compatible', baseUrl: `${flaky.url}/v1`, apiKey: { env: 'E2E_OPENAI_KEY' } },
      anthropic: { kind: 'anthropic', baseUrl: anthropic.url, apiKey: { env: 'E2E_ANTHROPIC_KEY' } },
      bedrock: { kind: 'bedrock', region: 'us-east-1', endpoint: bedrock.url },
    },
    models: {
      ...extra.models,
      gpt: { maxOutputTokens: 1000, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] },
      claude: { maxOutputTokens: 1000, targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 30_000 }] },
      nova: { maxOutputTokens: 1000, targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0', timeoutMs: 30_000 }] },
      resilient: {
        maxOutputTokens: 1000,
        targets: [
          { provider: 'flaky', model: 'gpt-4o-mini', timeoutMs: 300, retries: 1 },
          { provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', timeoutMs: 30_000 },
        ],
      },
    },
    // The flaky host serves gpt-4o-mini at OpenAI's list price (it stands for a second OpenAI-compatible host).
    pricing: { 'flaky/gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075 }, ...extra.pricing },
    server: { retryBaseDelayMs: 5, maxBodyBytes: 64 * 1024 },
    ...opts.configOverrides,
  });
  const dynamo = testDynamoClient();
  const tables = await createTestTables(dynamo, 'e2e');
  const alerts: BudgetThresholdEvent[] = [];
  const alertSink: BudgetAlertSink = { budgetThresholdCrossed: async (e) => void alerts.push(e) };
  const logs: string[] = [];
  // Powertools writes INFO to stdout and WARN/ERROR to stderr: capture both.
  const originals = { out: process.stdout.write, err: process.stderr.write };
  if (opts.captureLogs) {
    const capture = ((chunk: string | Uint8Array) => {
      logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
  }
  const start = () =>
    startLocalGateway({
      config,
      store: { client: dynamo, tables },
      env: { E2E_OPENAI_KEY: OPENAI_UPSTREAM_KEY, E2E_ANTHROPIC_KEY: ANTHROPIC_UPSTREAM_KEY },
      adapterOptions: { bedrock: { credentials: FAKE_AWS } },
      telemetry: opts.captureLogs ? createTelemetry({ config }) : false,
      alertSink,
    });
  const gateways = [await start()];
  while (gateways.length < (opts.gateways ?? 1)) gateways.push(await start());
  const gateway = gateways[0];
  return {
    gateway,
    gateways,
    config,
    openai,
    flaky,
    anthropic,
    bedrock,
    alerts,
    logs,
    async newKey(input = {}) {
      const { apiKey, key } = await gateway.runtime.gatekeeper.keys.create({ name: 'e2e', ...input });
      return { apiKey, keyId: key.keyId };
    },
    client(apiKey, o = {}) {
      return new OpenAI({ apiKey, baseURL: (o.gateway ?? gateway).url, maxRetries: o.maxRetries ?? 0, timeout: 150_000 });
    },
    async close() {
      for (const g of gateways) await g.close();
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
      await Promise.all([openai, flaky, anthropic, bedrock].map((d) => d.close()));
      await deleteTestTables(dynamo, tables);
      dynamo.destroy();
    },
  };
}

/** Today's UTC day and month keys, as the ledger names periods. */
export function periods(now = Date.now()): { day: string; month: string } {
  const iso = new Date(now).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}
