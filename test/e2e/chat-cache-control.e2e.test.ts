/**
 * Prompt caching through chat completions, tools included: `cache_control` on a tool (beside `function`,
 * LiteLLM's placement) reaches Anthropic on the tool and Bedrock as a cache point after the tool, as it does
 * on content parts; OpenAI-compatible hosts never see it. The official `openai` client against the local
 * gateway and the provider doubles; /v1/messages tools to Bedrock get the same cache point.
 */
import Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { startRig, type Rig } from './support/harness';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ extend: () => ({ models: { haiku: { maxOutputTokens: 1000, targets: [{ provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' }] } } }) });
}, 60_000);
afterAll(() => rig?.close());

const CACHE = { type: 'ephemeral' as const };
// The openai package's types know nothing of cache_control (a gateway extension): the wire carries it.
const TOOLS = [
  { type: 'function', function: { name: 'search', description: 'Search the docs', parameters: { type: 'object', properties: { q: { type: 'string' } } } } },
  { type: 'function', function: { name: 'read', parameters: { type: 'object', properties: { path: { type: 'string' } } } }, cache_control: CACHE },
] as unknown as OpenAI.ChatCompletionTool[];
const MESSAGES = [
  { role: 'system', content: [{ type: 'text', text: 'Long instructions. '.repeat(20), cache_control: CACHE }] },
  { role: 'user', content: 'Find the setup guide.' },
] as unknown as OpenAI.ChatCompletionMessageParam[];

describe('Chat completions: cache_control on tools', () => {
  it('reaches Anthropic on the tool, like cache_control on the system part', async () => {
    rig.anthropic.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 500, completionTokens: 2, cachedTokens: 450 } });
    const { apiKey } = await rig.newKey();
    const before = rig.anthropic.requests.length;
    await rig.client(apiKey).chat.completions.create({ model: 'claude', messages: MESSAGES, tools: TOOLS, max_tokens: 20 });
    const body = rig.anthropic.requests[before].body as { tools: Array<Record<string, unknown>>; system: Array<Record<string, unknown>> };
    expect(body.system[0].cache_control).toEqual(CACHE);
    expect(body.tools).toEqual([
      { name: 'search', description: 'Search the docs', input_schema: { type: 'object', properties: { q: { type: 'string' } } } },
      { name: 'read', input_schema: { type: 'object', properties: { path: { type: 'string' } } }, cache_control: CACHE },
    ]);
  });

  it('reaches Bedrock as a cache point after the tool (streamed)', async () => {
    rig.bedrock.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 500, completionTokens: 2, cachedTokens: 450 } });
    const { apiKey } = await rig.newKey();
    const before = rig.bedrock.requests.length;
    const stream = await rig.client(apiKey).chat.completions.create({ model: 'haiku', messages: MESSAGES, tools: TOOLS, max_tokens: 20, stream: true });
    for await (const chunk of stream) void chunk;
    const body = rig.bedrock.requests[before].body as { toolConfig: { tools: unknown[] }; system: unknown[] };
    expect(body.system).toEqual([{ text: expect.any(String) }, { cachePoint: { type: 'default' } }]);
    expect(body.toolConfig.tools).toEqual([
      { toolSpec: { name: 'search', description: 'Search the docs', inputSchema: { json: { type: 'object', properties: { q: { type: 'string' } } } } } },
      { toolSpec: { name: 'read', inputSchema: { json: { type: 'object', properties: { path: { type: 'string' } } } } } },
      { cachePoint: { type: 'default' } },
    ]);
  });

  it('never reaches an OpenAI-compatible host', async () => {
    rig.openai.setDefault({ kind: 'ok', text: 'ok' });
    const { apiKey } = await rig.newKey();
    const before = rig.openai.requests.length;
    await rig.client(apiKey).chat.completions.create({ model: 'gpt', messages: MESSAGES, tools: TOOLS, max_tokens: 20 });
    const body = rig.openai.requests[before].body as { tools: unknown[] };
    expect(JSON.stringify(body)).not.toContain('cache_control');
    expect(body.tools).toHaveLength(2);
  });

  it('/v1/messages tools with cache_control reach Bedrock as the same cache point', async () => {
    rig.bedrock.setDefault({ kind: 'ok', text: 'ok' });
    const { apiKey } = await rig.newKey();
    const before = rig.bedrock.requests.length;
    const client = new Anthropic({ apiKey, baseURL: new URL(rig.gateway.url).origin, maxRetries: 0 });
    await client.messages.create({
      model: 'haiku',
      max_tokens: 20,
      tools: [{ name: 'read', input_schema: { type: 'object', properties: {} }, cache_control: CACHE }],
      messages: [{ role: 'user', content: 'x' }],
    });
    const body = rig.bedrock.requests[before].body as { toolConfig: { tools: unknown[] } };
    expect(body.toolConfig.tools).toEqual([{ toolSpec: { name: 'read', inputSchema: { json: { type: 'object', properties: {} } } } }, { cachePoint: { type: 'default' } }]);
  });
});
