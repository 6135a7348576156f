import { parseConfig } from '../../../lambda/core/config';
import type { BedrockAdapter } from '../../../lambda/providers/bedrock/adapter';
import { createAdapters, createProviderAdapter } from '../../../lambda/providers/registry';

describe('Method: createAdapters', () => {
  it('builds one adapter per configured provider, keyed by id', () => {
    const config = parseConfig({
      providers: {
        openai: { kind: 'openai-compatible', baseUrl: 'https://api.openai.com/v1', apiKey: { env: 'OPENAI_API_KEY' } },
        groq: { kind: 'openai-compatible', baseUrl: 'https://api.groq.com/openai/v1' },
        anthropic: { kind: 'anthropic', apiKey: { env: 'ANTHROPIC_API_KEY' } },
        bedrock: { kind: 'bedrock', region: 'eu-west-1' },
      },
      models: {},
    });
    const adapters = createAdapters(config, { bedrock: { credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } });
    expect([...adapters.keys()]).toEqual(['openai', 'groq', 'anthropic', 'bedrock']);
    for (const [id, adapter] of adapters) expect(adapter.id).toBe(id);
    (adapters.get('bedrock') as BedrockAdapter).client.destroy();
  });
});

describe('Method: createProviderAdapter', () => {
  it('routes an OpenAI-compatible provider through the injected fetch with its base URL and headers', async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    const adapter = createProviderAdapter(
      'mistral',
      { kind: 'openai-compatible', baseUrl: 'https://api.mistral.ai/v1', headers: { 'x-tenant': 't1' } },
      {
        fetch: async (url, init) => {
          seen.push({ url, headers: init.headers as Record<string, string> });
          return new Response(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [] }), { status: 200 });
        },
      },
    );
    await adapter.chat({ request: { model: 'mistral-small', messages: [{ role: 'user', content: 'hi' }] }, signal: new AbortController().signal, apiKey: 'k', maxOutputTokens: 100 });
    expect(seen[0].url).toBe('https://api.mistral.ai/v1/chat/completions');
    expect(seen[0].headers).toMatchObject({ 'x-tenant': 't1', authorization: 'Bearer k' });
  });

  it('routes an Anthropic provider to /v1/messages with its version header', async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    const adapter = createProviderAdapter(
      'anthropic',
      { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKey: { env: 'K' }, version: '2023-06-01' },
      {
        fetch: async (url, init) => {
          seen.push({ url, headers: init.headers as Record<string, string> });
          return new Response(JSON.stringify({ id: 'msg', type: 'message', role: 'assistant', model: 'c', content: [], stop_reason: 'end_turn', usage: {} }));
        },
      },
    );
    await adapter.chat({ request: { model: 'claude', messages: [{ role: 'user', content: 'hi' }] }, signal: new AbortController().signal, apiKey: 'k', maxOutputTokens: 100 });
    expect(seen[0].url).toBe('https://api.anthropic.com/v1/messages');
    expect(seen[0].headers).toMatchObject({ 'anthropic-version': '2023-06-01', 'x-api-key': 'k' });
  });
});
