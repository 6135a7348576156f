/**
 * `tollgate insights` on hand-computed fixtures: usage records written through the real recorder into
 * DynamoDB Local (record + dimension rollups + insight rollups), read back by the CLI command in-process.
 * Prices (USD per million tokens = micro-dollars per token): Sonnet 4.5 3 / 15 (cache read 0.3), Haiku 4.5
 * 1 / 5 (cache read 0.1), Nova Lite 0.06 / 0.24, GPT-4o mini 0.15 / 0.60 (cache read 0.075).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../lambda/cli/main';
import type { Insights } from '../../../lambda/core/insights';
import type { UsageRecord } from '../../../lambda/core/metering';
import { documentClient } from '../../../lambda/store/dynamo';
import { UsageDeriver } from '../../../lambda/store/usage-deriver';
import { UsageRecorder } from '../../../lambda/store/usage-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const HAIKU = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
/** The month is over: monthly figures equal the month's. */
const NOW = Date.UTC(2026, 11, 5);

const CONFIG = {
  providers: { openai: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' }, bedrock: { kind: 'bedrock', region: 'us-east-1' } },
  models: {
    'gpt-4o-mini': { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
    sonnet: { targets: [{ provider: 'bedrock', model: SONNET }] },
    haiku: { targets: [{ provider: 'bedrock', model: HAIKU }] },
    nova: { targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0' }] },
    smart: {
      targets: [{ provider: 'bedrock', model: SONNET }],
      experiment: { arms: [{ name: 'control', weight: 90 }, { name: 'candidate', weight: 10, targets: [{ provider: 'bedrock', model: HAIKU }] }] },
    },
  },
  // The hand-computed amounts below use Anthropic's list prices; the catalog bills these regional
  // profiles 10% above them, and config.pricing wins over the catalog.
  pricing: {
    [`bedrock/${SONNET}`]: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
    [`bedrock/${HAIKU}`]: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  },
};

let seq = 0;
function record(over: Partial<UsageRecord> & Pick<UsageRecord, 'feature' | 'model' | 'provider' | 'upstreamModel'>): UsageRecord {
  const day = over.day ?? '2026-11-25';
  const at = Date.parse(`${day}T12:00:00Z`) + seq;
  return {
    requestId: `req_${seq++}`,
    admittedAt: at,
    endedAt: at + 1000,
    day,
    keyId: 'key_1',
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costMicros: 0,
    estimated: false,
    unpriced: false,
    status: 'success',
    httpStatus: 200,
    stream: false,
    totalMs: 1000,
    attempts: 1,
    fallback: false,
    ...over,
  };
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

const RECORDS: UsageRecord[] = [
  // summarize on Sonnet: 2,000 in (500 cache reads), 300 out: 1,500 × 3 + 500 × 0.3 + 300 × 15 = 9,150 each.
  ...times(10, () => record({ feature: 'summarize', model: 'sonnet', provider: 'bedrock', upstreamModel: SONNET, inputTokens: 2000, cacheReadTokens: 500, outputTokens: 300, costMicros: 9150 })),
  // chat on GPT-4o mini, max_tokens 4,000 but 100 used: 1,000 × 0.15 + 100 × 0.6 = 210 each.
  ...times(20, () => record({ feature: 'chat', model: 'gpt-4o-mini', provider: 'openai', upstreamModel: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 100, costMicros: 210, outputCapTokens: 4000 })),
  // support resends one 2,000-token prefix, 5 times on the 25th and 3 on the 26th, never cached: 2,100 × 0.15 + 50 × 0.6 = 345.
  ...times(8, (i) =>
    record({ feature: 'support', model: 'gpt-4o-mini', provider: 'openai', upstreamModel: 'gpt-4o-mini', day: i < 5 ? '2026-11-25' : '2026-11-26', inputTokens: 2100, outputTokens: 50, costMicros: 345, prefixHash: '0123456789abcdef', prefixTokens: 2000 }),
  ),
  // The experiment: control on Sonnet (1,000 × 3 + 100 × 15 = 4,500), candidate on Haiku (1,000 + 500 = 1,500), one error, one fallback.
  ...times(4, () => record({ feature: 'triage', model: 'smart', arm: 'control', provider: 'bedrock', upstreamModel: SONNET, inputTokens: 1000, outputTokens: 100, costMicros: 4500, totalMs: 800, ttftMs: 150 })),
  ...times(3, (i) => record({ feature: 'triage', model: 'smart', arm: 'candidate', provider: 'bedrock', upstreamModel: HAIKU, inputTokens: 1000, outputTokens: 100, costMicros: 1500, totalMs: 400, ttftMs: 100, fallback: i === 0 })),
  record({ feature: 'triage', model: 'smart', arm: 'candidate', provider: 'bedrock', upstreamModel: HAIKU, status: 'upstream_error', httpStatus: 502, totalMs: 100 }),
];

const client = testDynamoClient();
let tables: TestTables;
let dir: string;

beforeAll(async () => {
  tables = await createTestTables(client, 'insights');
  const recorder = new UsageRecorder(documentClient(client), tables.ledger, 90);
  for (const r of RECORDS) await recorder.commit(r);
  // Rollups are derived from the records (usage-deriver.ts).
  await new UsageDeriver(documentClient(client), tables.ledger, { globalShards: 1 }).kick();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-insights-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
});

afterAll(async () => {
  await deleteTestTables(client, tables);
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const endpoint = await client.config.endpoint!();
  const code = await main([...args, '--endpoint', `http://${endpoint.hostname}:${endpoint.port}`, '--keys-table', tables.keys, '--ledger-table', tables.ledger, '--region', 'us-east-1'], {
    io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
    env: { TOLLGATE_CONFIG: join(dir, 'config.json') },
    now: () => NOW,
  });
  return { code, stdout, stderr };
}

async function insights(period = '2026-11'): Promise<Insights> {
  const r = await cli(['insights', '--period', period, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Insights;
}

describe('Command: insights', () => {
  it('proposes the cheapest capable model per feature, priced on its own token mix, ranked by saving', async () => {
    const r = await insights();
    expect(r.daysObserved).toBe(30);
    const summarize = r.cheaperModels.filter((m) => m.feature === 'summarize');
    // Sonnet needs reasoning: Haiku qualifies, Nova Lite and GPT-4o mini do not. 15,000 × 1 + 5,000 × 0.1 + 3,000 × 5.
    expect(summarize).toEqual([
      {
        feature: 'summarize',
        current: `bedrock/${SONNET}`,
        alias: 'sonnet',
        candidate: `bedrock/${HAIKU}`,
        candidateAlias: 'haiku',
        currentCostMicros: 91_500,
        candidateCostMicros: 30_500,
        savingMicros: 61_000,
        monthlySavingMicros: 61_000,
        evidence: { requests: 10, inputTokens: 20_000, outputTokens: 3_000, cacheReadTokens: 5_000, cacheWriteTokens: 0, costMicros: 91_500 },
      },
    ]);
    // GPT-4o mini → Nova Lite (300K context, tools, vision): 20,000 × 0.06 + 2,000 × 0.24 = 1,680 against 4,200.
    const chat = r.cheaperModels.filter((m) => m.feature === 'chat');
    expect(chat.map((m) => [m.candidate, m.candidateAlias, m.currentCostMicros, m.candidateCostMicros, m.savingMicros])).toEqual([['bedrock/amazon.nova-lite-v1:0', 'nova', 4_200, 1_680, 2_520]]);
    // Ranked: summarize (61,000) before triage's control arm (18,000 - 6,000 = 12,000) before chat (2,520).
    const order = r.cheaperModels.map((m) => `${m.feature}:${m.savingMicros}`);
    expect(order.indexOf('summarize:61000')).toBe(0);
    expect(order.indexOf('triage:12000')).toBeLessThan(order.indexOf('chat:2520'));
  });

  it('prices prompt caching for a prefix resent without cache reads: one write per day, reads after', async () => {
    const r = await insights();
    // 8 × 2,000 = 16,000 prefix tokens: uncached 16,000 × 0.15 = 2,400; cached 4,000 written at the input
    // price (GPT-4o mini has no write premium) = 600 + 12,000 read × 0.075 = 900 → 1,500; saving 900.
    expect(r.caching).toEqual([
      { feature: 'support', model: 'openai/gpt-4o-mini', prefixes: 1, requests: 8, prefixTokens: 16_000, uncachedCostMicros: 2_400, cachedCostMicros: 1_500, savingMicros: 900, monthlySavingMicros: 900 },
    ]);
  });

  it('flags an output cap forty times what the feature uses, with the reservation it costs', async () => {
    const r = await insights();
    // 100 output tokens fall in the histogram bucket up to 106; suggested = ceil(106 × 1.25 / 64) × 64 = 192.
    // Reserved output per request: 4,000 × 0.6 = 2,400 micro-dollars; with the cap 192 × 0.6 = 115.2 → 116.
    expect(r.outputCaps).toEqual([
      { feature: 'chat', model: 'openai/gpt-4o-mini', requests: 20, averageCap: 4000, p95OutputTokens: 106, p99OutputTokens: 106, suggestedCap: 192, reservedPerRequestMicros: 2_400, suggestedReservedPerRequestMicros: 116 },
    ]);
  });

  it('compares experiment arms on cost per request, latency percentiles, error and fallback rates', async () => {
    const r = await insights();
    // Latencies are bucket upper edges (4 buckets per doubling): 800 → 860, 150 → 151, 400 → 429, 100 → 106.
    expect(r.experiments).toEqual([
      { model: 'smart', arm: 'candidate', requests: 4, costMicros: 4_500, costPerRequestMicros: 1_125, p50LatencyMs: 429, p95LatencyMs: 429, p50TtftMs: 106, errorRatePercent: 25, fallbackRatePercent: 25 },
      { model: 'smart', arm: 'control', requests: 4, costMicros: 18_000, costPerRequestMicros: 4_500, p50LatencyMs: 860, p95LatencyMs: 860, p50TtftMs: 151, errorRatePercent: 0, fallbackRatePercent: 0 },
    ]);
  });

  it('reads one day with --period YYYY-MM-DD and prints a table by default', async () => {
    const day = await insights('2026-11-26');
    // The 26th alone: 3 × 2,000 = 6,000 tokens, 900 uncached; 2,000 written (300) + 4,000 read (300) = 600;
    // a day's saving of 300 is 9,000 over the 30-day month.
    expect(day.daysObserved).toBe(1);
    expect(day.caching).toEqual([
      { feature: 'support', model: 'openai/gpt-4o-mini', prefixes: 1, requests: 3, prefixTokens: 6_000, uncachedCostMicros: 900, cachedCostMicros: 600, savingMicros: 300, monthlySavingMicros: 9_000 },
    ]);
    const table = await cli(['insights', '--period', '2026-11']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('Cheaper models of the same capability');
    expect(table.stdout).toMatch(/summarize\s+bedrock\/us\.anthropic\.claude-sonnet-4-5-20250929-v1:0\s+bedrock\/us\.anthropic\.claude-haiku-4-5-20251001-v1:0 \(haiku\)\s+10\s+20000\s+3000\s+\$0\.091500\s+\$0\.030500\s+\$0\.061000/);
  });

  it('rejects a malformed period with exit code 2', async () => {
    const r = await cli(['insights', '--period', 'November']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--period must be a month/);
  });
});
