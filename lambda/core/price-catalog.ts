/**
 * Built-in list prices, USD per million tokens, keyed `provider/model` where `provider` is the provider
 * id used in tollgate.config.json and `model` the upstream model id. `config.pricing` overrides or adds
 * entries with the same keys. Standard (on-demand, non-batch, short-context) tiers; prices change, so
 * every entry names its source and the date it was checked.
 */
import type { PriceConfig } from './config';

/** When the entries were last compared with the pages named (Nova Lite and DeepSeek cross-checked with third-party copies too). */
export const PRICE_CATALOG_CHECKED = '2026-11-25';

export const PRICE_CATALOG: Readonly<Record<string, Readonly<PriceConfig>>> = Object.freeze({
  // https://openai.com/api/pricing (GPT-4o mini: $0.15 in, $0.075 cached in, $0.60 out)
  'openai/gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075 },

  // https://www.anthropic.com/pricing#api and https://docs.claude.com/en/docs/about-claude/pricing
  // (Sonnet 4.5 up to 200K input: $3 in, $15 out, cache read $0.30, 5-minute cache write $3.75)
  'anthropic/claude-sonnet-4-5-20250929': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },

  // https://aws.amazon.com/bedrock/pricing/ (Anthropic on Bedrock is list-priced like the Anthropic API;
  // the `us.` cross-region inference profiles are billed at the source region's price)
  'bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'bedrock/anthropic.claude-haiku-4-5-20251001-v1:0': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'anthropic/claude-haiku-4-5-20251001': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },

  // https://aws.amazon.com/bedrock/pricing/ (Amazon Nova Lite: $0.06 in, $0.24 out, cached read $0.015)
  'bedrock/amazon.nova-lite-v1:0': { input: 0.06, output: 0.24, cacheRead: 0.015 },
  'bedrock/us.amazon.nova-lite-v1:0': { input: 0.06, output: 0.24, cacheRead: 0.015 },

  // https://ai.google.dev/gemini-api/docs/pricing (Gemini 2.5 Flash text: $0.30 in, $2.50 out incl. thinking,
  // context-cache read $0.03)
  'google/gemini-2.5-flash': { input: 0.3, output: 2.5, cacheRead: 0.03 },

  // https://mistral.ai/pricing#api-pricing (Mistral Small: $0.10 in, $0.30 out)
  'mistral/mistral-small-latest': { input: 0.1, output: 0.3 },

  // https://api-docs.deepseek.com/quick_start/pricing (DeepSeek-V3.2 since 2025-09-29: $0.28 cache miss,
  // $0.028 cache hit, $0.42 out)
  'deepseek/deepseek-chat': { input: 0.28, output: 0.42, cacheRead: 0.028 },

  // Embeddings (/v1/embeddings): input only. https://openai.com/api/pricing (text-embedding-3-small $0.02,
  // -3-large $0.13, ada-002 $0.10 per M); https://aws.amazon.com/bedrock/pricing/ (Titan Text Embeddings V2
  // $0.00002 per 1K tokens; Cohere Embed English / Multilingual v3 $0.0001 per 1K tokens)
  'openai/text-embedding-3-small': { input: 0.02, output: 0 },
  'openai/text-embedding-3-large': { input: 0.13, output: 0 },
  'openai/text-embedding-ada-002': { input: 0.1, output: 0 },
  'bedrock/amazon.titan-embed-text-v2:0': { input: 0.02, output: 0 },
  'bedrock/cohere.embed-english-v3': { input: 0.1, output: 0 },
  'bedrock/cohere.embed-multilingual-v3': { input: 0.1, output: 0 },
});
