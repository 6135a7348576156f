/**
 * Starts the gateway the benchmark measures: the real local composition when it exists, otherwise the
 * gateway app with the pieces that do. `mode: 'full'` is what production runs (auth, rate limits,
 * budget reservation, metering); `mode: 'open'` has no gatekeeper, to separate the gateway's own cost
 * from the store round trips.
 */
import { createGatewayApp } from '../../lambda/app/gateway-app';
import { parseConfig, type TollgateConfig } from '../../lambda/core/config';
import { openGatekeeper } from '../../lambda/core/gatekeeper';
import { serveApp } from '../../lambda/local/server';
import { createOpenAICompatibleAdapter } from '../../lambda/providers/openai-compatible/adapter';
import type { ProviderAdapter } from '../../lambda/providers/types';
import type { UpstreamUrls } from '../upstream/upstreams';

export type GatewayMode = 'open' | 'full';

export interface GatewayUnderTestOptions {
  mode: GatewayMode;
  upstream: UpstreamUrls;
  /** Folder of a dynalite store another process serves (multi-process runs); in-process store otherwise. */
  storeDataDir?: string;
}

export interface DynamoCounts {
  byCommand: Record<string, number>;
  readUnits: number;
  writeUnits: number;
}

export interface GatewayUnderTest {
  /** Chat completions URL. */
  url: string;
  /** Headers every request needs (the gateway key). */
  headers: Record<string, string>;
  /** How the gateway was composed, for the report. */
  composition: string;
  /** Gateway models the bench uses: `latency` plus one `long-<adapter>` per relay adapter. */
  models: { latency: string; long: Record<string, string> };
  dynamoCounts(): DynamoCounts;
  /** Waits for deferred settlements. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** High enough that the bench never throttles or exhausts the budget. */
export const BENCH_LIMITS = { rpm: 10_000_000, tpm: 10_000_000_000, budgetUsd: 1_000_000 } as const;

export function benchConfig(upstream: UpstreamUrls): TollgateConfig {
  return parseConfig({
    providers: {
      bench: { kind: 'openai-compatible', baseUrl: `${upstream.openai}/v1`, apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
      'bench-long': { kind: 'openai-compatible', baseUrl: `${upstream.long['openai-compatible']}/v1`, apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
    },
    models: {
      bench: { targets: [{ provider: 'bench', model: 'bench-model' }], maxOutputTokens: 256 },
      'long-openai-compatible': { targets: [{ provider: 'bench-long', model: 'bench-model' }], maxOutputTokens: 100_000 },
    },
    pricing: { 'bench/bench-model': { input: 1, output: 2 }, 'bench-long/bench-model': { input: 1, output: 2 } },
    server: { retryBaseDelayMs: 1 },
  });
}

export async function startGatewayUnderTest(opts: GatewayUnderTestOptions): Promise<GatewayUnderTest> {
  const config = benchConfig(opts.upstream);
  const adapters = new Map<string, ProviderAdapter>();
  for (const [id, p] of Object.entries(config.providers)) {
    if (p.kind === 'openai-compatible') adapters.set(id, createOpenAICompatibleAdapter(id, { baseUrl: p.baseUrl, headers: p.headers }));
  }
  const app = createGatewayApp({ config, adapters, providerKeys: { get: async () => 'sk-bench-upstream' }, gatekeeper: openGatekeeper });
  const server = await serveApp(app);
  return {
    url: `${server.url}/chat/completions`,
    headers: { authorization: 'Bearer none' },
    composition: `interim: createGatewayApp + openGatekeeper + openai-compatible adapter (mode ${opts.mode} requested; gatekeeper not composed yet)`,
    models: { latency: 'bench', long: { 'openai-compatible': 'long-openai-compatible' } },
    dynamoCounts: () => ({ byCommand: {}, readUnits: 0, writeUnits: 0 }),
    idle: () => server.idle(),
    close: () => server.close(),
  };
}
