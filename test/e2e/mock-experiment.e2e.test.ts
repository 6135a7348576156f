/**
 * The mock provider and an experiment through the whole gateway: the official `openai` client → local
 * gateway (DynamoDB Local) → in-process mock upstreams priced as real models. Records carry the arm,
 * the output cap asked for and the prompt prefix; `insights` reads the arms back from the rollups.
 */
import OpenAI from 'openai';
import { parseConfig } from '../../lambda/core/config';
import { buildInsights } from '../../lambda/core/insights';
import { startLocalGateway, type LocalGateway } from '../../lambda/local/gateway';
import { InsightReader } from '../../lambda/store/insight-reader';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../support/dynamodb-local';
import { periods } from './support/harness';

const config = parseConfig({
  providers: {
    'mock-openai': { kind: 'mock', priceAs: 'openai', ttftMs: 5, tokensPerSecond: 5_000, answerTokens: 20 },
    'mock-bedrock': { kind: 'mock', priceAs: 'bedrock', ttftMs: 5, tokensPerSecond: 5_000, answerTokens: 20 },
  },
  models: {
    assistant: {
      targets: [{ provider: 'mock-openai', model: 'gpt-4o-mini' }],
      experiment: { arms: [{ name: 'control', weight: 1 }, { name: 'nova', weight: 1, targets: [{ provider: 'mock-bedrock', model: 'amazon.nova-lite-v1:0' }] }] },
    },
  },
});

const dynamo = testDynamoClient();
let tables: TestTables;
let gateway: LocalGateway;
let client: OpenAI;
let keyId: string;

beforeAll(async () => {
  tables = await createTestTables(dynamo, 'mockexp');
  gateway = await startLocalGateway({ config, store: { client: dynamo, tables }, env: {}, telemetry: false });
  const created = await gateway.runtime.gatekeeper.keys.create({ name: 'exp', defaultFeature: 'assist' });
  keyId = created.key.keyId;
  client = new OpenAI({ apiKey: created.apiKey, baseURL: gateway.url, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await deleteTestTables(dynamo, tables);
  dynamo.destroy();
});

describe('Mock provider and experiment arms, end to end', () => {
  it('serves streamed and plain answers with usage, priced as the real model, each record naming its arm', async () => {
    const system = 'You answer questions about invoices for the billing team. '.repeat(150);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const messages = [
        { role: 'system' as const, content: system },
        { role: 'user' as const, content: `Question ${i}` },
      ];
      if (i % 2 === 0) {
        const res = await client.chat.completions.create({ model: 'assistant', messages, max_tokens: 2000 }).withResponse();
        expect(res.data.usage!.completion_tokens).toBeGreaterThan(0);
        ids.push(res.response.headers.get('x-tollgate-request-id')!);
      } else {
        const stream = await client.chat.completions.create({ model: 'assistant', messages, stream: true, stream_options: { include_usage: true } });
        let text = '';
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
        expect(text.length).toBeGreaterThan(0);
      }
    }
    await gateway.idle();
    const records = await gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
    expect(records).toHaveLength(40);
    for (const r of records) {
      expect(r.status).toBe('success');
      expect(['control', 'nova']).toContain(r.arm);
      expect(r.upstreamModel).toBe(r.arm === 'control' ? 'gpt-4o-mini' : 'amazon.nova-lite-v1:0');
      expect(r.costMicros).toBeGreaterThan(0);
      expect(r.prefixTokens).toBeGreaterThanOrEqual(1024);
    }
    expect(new Set(records.map((r) => r.prefixHash)).size).toBe(1);
    expect(records.filter((r) => r.outputCapTokens === 2000)).toHaveLength(20);

    const reader = new InsightReader({ client: dynamo, table: tables.ledger });
    const month = periods().month;
    const result = buildInsights(config, month, Date.now(), { featureModels: await reader.featureModels(month), prefixes: await reader.prefixes(month), arms: await reader.arms(month) });
    const arms = Object.fromEntries(result.experiments.map((a) => [a.arm, a]));
    expect(arms.control.requests + arms.nova.requests).toBe(40);
    expect(arms.control.requests).toBe(records.filter((r) => r.arm === 'control').length);
    // Same prompts and answer lengths: Nova Lite (0.06 / 0.24) costs less per request than GPT-4o mini (0.15 / 0.60).
    expect(arms.nova.costPerRequestMicros).toBeLessThan(arms.control.costPerRequestMicros);
    expect(result.caching.map((c) => c.feature)).toContain('assist');
    expect(result.outputCaps.map((c) => c.feature)).toContain('assist');
  });
});
