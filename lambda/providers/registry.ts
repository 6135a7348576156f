/**
 * Providers declared as data: one entry per wire format `kind`, each a factory from the provider's config
 * block to an adapter. Adding an OpenAI-compatible host needs no code at all, only config.
 */
import type { ProviderConfig, ProviderKind, TollgateConfig } from '../core/config';
import { createAnthropicAdapter } from './anthropic/adapter';
import { createBedrockAdapter } from './bedrock/adapter';
import type { BedrockClientOptions } from './bedrock/client';
import { createMockAdapter } from './mock/adapter';
import { createOpenAICompatibleAdapter } from './openai-compatible/adapter';
import type { FetchLike } from './shared/http-transport';
import type { ProviderAdapter } from './types';

export interface AdapterOptions {
  /** fetch for the HTTP providers (tests); the global fetch otherwise. */
  fetch?: FetchLike;
  /** Bedrock client settings (tests inject static credentials). */
  bedrock?: BedrockClientOptions;
}

type Factory<K extends ProviderKind> = (id: string, config: Extract<ProviderConfig, { kind: K }>, options: AdapterOptions) => ProviderAdapter;

const FACTORIES: { [K in ProviderKind]: Factory<K> } = {
  'openai-compatible': (id, c, o) => createOpenAICompatibleAdapter(id, { baseUrl: c.baseUrl, headers: c.headers, maxTokensField: c.maxTokensField }, { fetch: o.fetch }),
  anthropic: (id, c, o) => createAnthropicAdapter(id, { baseUrl: c.baseUrl, version: c.version }, { fetch: o.fetch }),
  bedrock: (id, c, o) => createBedrockAdapter(id, { region: c.region, endpoint: c.endpoint }, o.bedrock),
  mock: (id, c) => createMockAdapter(id, { ttftMs: c.ttftMs, tokensPerSecond: c.tokensPerSecond, answerTokens: c.answerTokens, errorRate: c.errorRate }),
};

export function createProviderAdapter(id: string, config: ProviderConfig, options: AdapterOptions = {}): ProviderAdapter {
  const factory = FACTORIES[config.kind] as Factory<ProviderKind>;
  return factory(id, config as never, options);
}

/** One adapter per configured provider, keyed by provider id. Built once per container. */
export function createAdapters(config: Pick<TollgateConfig, 'providers'>, options: AdapterOptions = {}): Map<string, ProviderAdapter> {
  const adapters = new Map<string, ProviderAdapter>();
  for (const [id, provider] of Object.entries(config.providers)) adapters.set(id, createProviderAdapter(id, provider, options));
  return adapters;
}
