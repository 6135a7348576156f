/** Where provider API keys come from: environment variables locally, Secrets Manager in AWS. */
import type { TollgateConfig } from '../core/config';
import { GatewayError } from '../core/errors';

export interface ProviderKeySource {
  /** The key for a provider, or undefined when the provider uses none (Bedrock: IAM). */
  get(providerId: string): Promise<string | undefined>;
}

class MissingProviderKeyError extends GatewayError {
  constructor(providerId: string) {
    // 502 so the router falls back to the next target; the message names the provider, never a key.
    super(502, 'upstream_error', `Provider '${providerId}' has no API key configured on this gateway.`, {
      code: 'provider_key_missing',
    });
  }
}

/**
 * The secret holding the keys could not be read (Secrets Manager refused, failed or timed out after its
 * retries, or the secret is not JSON). 503, so the router falls back to a target that needs no key (or
 * another provider's), and the client is told to retry; the cause names the service's exception, never
 * the secret's value.
 */
class ProviderKeysUnavailableError extends GatewayError {
  constructor(providerId: string, cause: unknown) {
    super(503, 'upstream_error', `The gateway could not read the API key for provider '${providerId}' from its secret store. Retry the request.`, {
      code: 'provider_key_unavailable',
      cause,
    });
  }
}

/** Local server: keys from the environment variables the config names. */
export function envProviderKeys(config: TollgateConfig, env: Readonly<Record<string, string | undefined>>): ProviderKeySource {
  return {
    async get(providerId) {
      const provider = Object.hasOwn(config.providers, providerId) ? config.providers[providerId] : undefined;
      if (!provider || provider.kind === 'bedrock' || !provider.apiKey) return undefined;
      const value = env[provider.apiKey.env];
      if (!value) throw new MissingProviderKeyError(providerId);
      return value;
    },
  };
}

/**
 * Lambda: one JSON secret, a field per provider id. `load` fetches it (cached by the caller for a max
 * age, so a filled-in or rotated key is picked up without a redeploy, and not fetched per request).
 */
export function secretProviderKeys(config: TollgateConfig, load: () => Promise<Record<string, unknown>>): ProviderKeySource {
  return {
    async get(providerId) {
      const provider = Object.hasOwn(config.providers, providerId) ? config.providers[providerId] : undefined;
      if (!provider || provider.kind === 'bedrock' || !provider.apiKey) return undefined;
      let secret: Record<string, unknown>;
      try {
        secret = await load();
      } catch (err) {
        throw new ProviderKeysUnavailableError(providerId, err);
      }
      const value = secret[providerId];
      if (typeof value !== 'string' || value === '') throw new MissingProviderKeyError(providerId);
      return value;
    },
  };
}
