/**
 * A gateway config whose two models go to loopback doubles: `gpt` to an OpenAI-compatible double (its key
 * from the provider-keys secret, OPENAI_API_KEY locally), `nova` to a Bedrock double. Used where a built
 * bundle must bake the doubles' URLs (test/e2e/lambda-bundle-providers.e2e.test.ts, bench/cold-request.ts).
 */
export function doublesConfig(urls: { openai: string; bedrock: string }) {
  return {
    providers: {
      openai: { kind: 'openai-compatible', baseUrl: `${urls.openai}/v1`, apiKey: { env: 'OPENAI_API_KEY' } },
      bedrock: { kind: 'bedrock', region: 'us-east-1', endpoint: urls.bedrock },
    },
    models: {
      gpt: { maxOutputTokens: 200, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] },
      nova: { maxOutputTokens: 200, targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0', timeoutMs: 30_000 }] },
    },
  };
}
