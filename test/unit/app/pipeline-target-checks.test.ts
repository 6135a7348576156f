/**
 * The targets' request checks run before admission (pipeline.ts routableTargets), with the real adapters
 * (createAdapters, as the gateway builds them) in front of an OpenAI double on loopback: which targets
 * admission prices and the router tries, and which client error a request no target can take gets.
 */
import { createGatewayApp, type GatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import type { Admission, AdmissionRequest, Gatekeeper, RequestOutcome } from '../../../lambda/core/gatekeeper';
import { createAdapters } from '../../../lambda/providers/registry';
import { startOpenAIDouble, type UpstreamDouble } from '../../doubles/openai-double';

let openai: UpstreamDouble;
let app: GatewayApp;
const admitted: AdmissionRequest[] = [];
const outcomes: RequestOutcome[] = [];

const gatekeeper: Gatekeeper = {
  async admit(req): Promise<Admission> {
    admitted.push(req);
    return { attribution: { keyId: 'k1' }, headers: {}, settle: async (o) => void outcomes.push(o) };
  },
};

beforeAll(async () => {
  openai = await startOpenAIDouble();
  const config = parseConfig({
    providers: {
      openai: { kind: 'openai-compatible', baseUrl: `${openai.url}/v1` },
      // Never reached in these tests: their checks refuse first, or an earlier target serves.
      anthropic: { kind: 'anthropic', baseUrl: 'http://127.0.0.1:9', apiKey: { env: 'UNIT_ANTHROPIC_KEY' } },
      bedrock: { kind: 'bedrock', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' },
    },
    models: {
      'claude-then-gpt': { maxOutputTokens: 1000, targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }, { provider: 'openai', model: 'gpt-4o-mini' }] },
      'gpt-then-claude': { maxOutputTokens: 1000, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }] },
      'nova-then-claude': { maxOutputTokens: 4000, targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0' }, { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }] },
    },
    server: { retryBaseDelayMs: 1 },
  });
  app = createGatewayApp({
    config,
    adapters: createAdapters(config, { bedrock: { credentials: { accessKeyId: 'AKIDUNIT', secretAccessKey: 'unit' } } }),
    providerKeys: { get: async () => undefined },
    gatekeeper,
  });
});
afterAll(() => openai?.close());
beforeEach(() => {
  admitted.length = 0;
  outcomes.length = 0;
  openai.setDefault({ kind: 'ok', text: 'served' });
});

async function chat(body: Record<string, unknown>): Promise<{ status: number; json: { error?: { code?: string; param?: string; message?: string } }; headers: Headers }> {
  const pending: Promise<unknown>[] = [];
  const res = await app.fetch(new Request('http://127.0.0.1/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }), {
    waitUntil: (p) => void pending.push(p),
  });
  const json = (await res.json()) as { error?: { code?: string; param?: string; message?: string } };
  await Promise.all(pending);
  return { status: res.status, json, headers: res.headers };
}

/** An assistant turn whose tool call carries arguments that are not JSON: Anthropic's mapping refuses them (400), OpenAI's passes them on. */
const BROKEN_TOOL_HISTORY = [
  { role: 'user', content: 'weather?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{not json' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
];

describe('Function: routableTargets (before admission)', () => {
  it('prices and routes only the targets that can take the request', async () => {
    const res = await chat({ model: 'claude-then-gpt', seed: 3, messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(200);
    expect(admitted).toHaveLength(1);
    expect(admitted[0].targets.map((t) => t.provider)).toEqual(['openai']);
    expect(outcomes).toEqual([expect.objectContaining({ status: 'success', provider: 'openai', attempts: 1, fallback: false })]);
  });

  it('refuses with the first target\'s error, admitting nothing, when no target can take the request', async () => {
    const none = await chat({ model: 'nova-then-claude', seed: 3, messages: [{ role: 'user', content: 'x' }] });
    expect(none.status).toBe(400);
    expect(none.json.error).toMatchObject({ code: 'unsupported_parameter', param: 'seed', message: expect.stringContaining("Provider 'bedrock'") });
    expect(admitted).toEqual([]);
    expect(outcomes).toEqual([]);
  });

  it('answers another client error where the router would have stopped on it: when no earlier target can take the request', async () => {
    // nova refuses reasoning_effort (not an Anthropic model); Anthropic would take it but refuses the broken tool arguments.
    const res = await chat({ model: 'nova-then-claude', reasoning_effort: 'low', messages: BROKEN_TOOL_HISTORY });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_tool_arguments' });
    expect(admitted).toEqual([]);
  });

  it('keeps a later target whose check fails with another client error (runtime fallback unchanged)', async () => {
    const res = await chat({ model: 'gpt-then-claude', messages: BROKEN_TOOL_HISTORY });
    expect(res.status).toBe(200);
    expect(admitted[0].targets.map((t) => t.provider)).toEqual(['openai', 'anthropic']);
    expect(res.headers.get('x-tollgate-provider')).toBe('openai');
  });
});
