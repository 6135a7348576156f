/**
 * `npm run demo`: Tollgate with no provider keys and no network. Starts the local gateway on mock
 * providers priced as real models (temp data folder), drives a mixed workload over several teams,
 * features, customers and models for DEMO_SECONDS (30), then prints `tollgate insights` and
 * `budgets list` and writes the HTML report (DEMO_REPORT, default ./tollgate-demo-report.html).
 * Deterministic: the workload is drawn from a seeded generator and the mocks answer by request hash.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main as cli } from './main';
import { periodKey } from '../core/budgets';
import { parseConfig } from '../core/config';
import { forecastSpend, periodBounds } from '../core/forecast';
import { startLocalGateway } from '../local/gateway';

const SECONDS = Number(process.env.DEMO_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.DEMO_CONCURRENCY ?? 8);
const REPORT = resolve(process.env.DEMO_REPORT ?? 'tollgate-demo-report.html');

const CONFIG = {
  providers: {
    'mock-openai': { kind: 'mock', priceAs: 'openai', ttftMs: 220, tokensPerSecond: 140, answerTokens: 90 },
    'mock-anthropic': { kind: 'mock', priceAs: 'anthropic', ttftMs: 480, tokensPerSecond: 90, answerTokens: 160, errorRate: 0.03 },
    'mock-bedrock': { kind: 'mock', priceAs: 'bedrock', ttftMs: 320, tokensPerSecond: 160, answerTokens: 120 },
    'mock-google': { kind: 'mock', priceAs: 'google', ttftMs: 260, tokensPerSecond: 200, answerTokens: 110 },
  },
  models: {
    'gpt-4o-mini': { targets: [{ provider: 'mock-openai', model: 'gpt-4o-mini', timeoutMs: 10_000 }] },
    'claude-sonnet': {
      targets: [
        { provider: 'mock-anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 10_000 },
        { provider: 'mock-bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', timeoutMs: 10_000 },
      ],
    },
    'claude-haiku': { targets: [{ provider: 'mock-anthropic', model: 'claude-haiku-4-5-20251001', timeoutMs: 10_000 }] },
    'nova-lite': { targets: [{ provider: 'mock-bedrock', model: 'amazon.nova-lite-v1:0', timeoutMs: 10_000 }] },
    'gemini-flash': { targets: [{ provider: 'mock-google', model: 'gemini-2.5-flash', timeoutMs: 10_000 }] },
    summarizer: {
      description: 'Experiment: Sonnet (current) against Haiku (candidate), sticky per customer',
      targets: [{ provider: 'mock-anthropic', model: 'claude-sonnet-4-5-20250929', timeoutMs: 10_000 }],
      experiment: { sticky: 'customer', arms: [{ name: 'sonnet', weight: 80 }, { name: 'haiku', weight: 20, targets: [{ provider: 'mock-anthropic', model: 'claude-haiku-4-5-20251001', timeoutMs: 10_000 }] }] },
    },
  },
  server: { retryBaseDelayMs: 10 },
};

const SUPPORT_PROMPT = 'You are the support assistant of Acme Cloud. Follow the policies below exactly. '.repeat(40) + 'Policies: refunds within 30 days; escalate outages; never share credentials. '.repeat(30);
const CUSTOMERS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];

interface Scenario {
  team: string;
  feature: string;
  model: string;
  weight: number;
  body(i: number, rnd: () => number): Record<string, unknown>;
}

const SCENARIOS: Scenario[] = [
  // Long identical system prompt, never cached: a caching opportunity.
  { team: 'support', feature: 'support-chat', model: 'gpt-4o-mini', weight: 30, body: (i) => ({ messages: [{ role: 'system', content: SUPPORT_PROMPT }, { role: 'user', content: `Ticket ${i}: my invoice looks wrong` }] }) },
  // max_tokens far above the answers: an output-cap finding.
  { team: 'search', feature: 'search-answer', model: 'gemini-flash', weight: 25, body: (i) => ({ max_tokens: 8192, messages: [{ role: 'user', content: `Answer the search query #${i} from the top documents` }] }) },
  // Sonnet for summaries: a cheaper-model recommendation.
  { team: 'docs', feature: 'summarize', model: 'claude-sonnet', weight: 20, body: (i) => ({ max_tokens: 1024, messages: [{ role: 'user', content: `Summarise document ${i}: ` + 'quarterly revenue grew while costs fell. '.repeat(60) }] }) },
  // The experiment.
  { team: 'docs', feature: 'triage', model: 'summarizer', weight: 15, body: (i) => ({ messages: [{ role: 'user', content: `Triage incoming email ${i} into a queue` }] }) },
  { team: 'search', feature: 'autocomplete', model: 'nova-lite', weight: 10, body: (i) => ({ max_tokens: 64, messages: [{ role: 'user', content: `complete: how do I ${i}` }] }) },
];

/** mulberry32: a small seeded generator, so the workload is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rnd: () => number): Scenario {
  let x = rnd() * SCENARIOS.reduce((s, c) => s + c.weight, 0);
  for (const s of SCENARIOS) if ((x -= s.weight) < 0) return s;
  return SCENARIOS[SCENARIOS.length - 1];
}

function bar(done: number, total: number, width = 30): string {
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

async function run(): Promise<void> {
  if (!Number.isFinite(SECONDS) || SECONDS <= 0) throw new Error(`DEMO_SECONDS must be a positive number, got '${process.env.DEMO_SECONDS}'`);
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const dataDir = process.env.DEMO_DATA_DIR ? resolve(process.env.DEMO_DATA_DIR) : mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(dataDir, 'demo.config.json');
  writeFileSync(configPath, JSON.stringify(CONFIG, null, 2));
  const config = parseConfig(CONFIG);
  const gateway = await startLocalGateway({ config, dataDir, port: 0, env: {}, telemetry: false });
  const log = (t: string) => process.stderr.write(t);
  log(`Tollgate demo: gateway on ${gateway.url} with mock providers (no keys, no network); data in ${dataDir}\n`);

  const keyStore = gateway.runtime.gatekeeper.keys;
  const keys = new Map<string, string>();
  for (const team of ['support', 'search', 'docs']) {
    const { apiKey } = await keyStore.create({ name: `${team}-demo`, team, allowCustomerOverride: true });
    keys.set(team, apiKey);
  }
  await keyStore.putPolicy('team', 'support', { budgets: [{ period: 'month', limitUsd: 5, mode: 'soft' }] });
  await keyStore.putPolicy('team', 'docs', { budgets: [{ period: 'month', limitUsd: 20, mode: 'hard' }] });
  await keyStore.putPolicy('global', '*', { budgets: [{ period: 'month', limitUsd: 100, mode: 'soft' }] });

  const stats = { requests: 0, errors: 0 };
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const tty = process.stderr.isTTY === true;
  let lastPrinted = 0;
  const progress = setInterval(() => {
    const elapsed = Math.min(SECONDS, (Date.now() - started) / 1000);
    if (!tty && elapsed - lastPrinted < 5 && elapsed < SECONDS) return;
    lastPrinted = elapsed;
    log(`${tty ? '\r' : ''}${bar(elapsed, SECONDS)} ${elapsed.toFixed(0).padStart(3)}s/${SECONDS}s  ${stats.requests} requests, ${stats.errors} errors${tty ? '' : '\n'}`);
  }, 250);

  const worker = async (w: number) => {
    const rnd = seeded(1_000 + w);
    for (let i = w; Date.now() < deadline; i += CONCURRENCY) {
      const s = pick(rnd);
      const stream = rnd() < 0.5;
      const customer = CUSTOMERS[Math.floor(rnd() ** 1.6 * CUSTOMERS.length)];
      try {
        const res = await fetch(`${gateway.url}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.get(s.team)}`, 'content-type': 'application/json', 'x-tollgate-feature': s.feature, 'x-tollgate-customer': customer },
          body: JSON.stringify({ model: s.model, stream, ...(stream ? { stream_options: { include_usage: true } } : {}), ...s.body(i, rnd) }),
        });
        await res.text();
        stats.requests++;
        if (!res.ok) stats.errors++;
      } catch {
        stats.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  clearInterval(progress);
  log(`${tty ? '\r' : ''}${bar(1, 1)} ${SECONDS}s/${SECONDS}s  ${stats.requests} requests, ${stats.errors} errors\n\n`);
  await gateway.idle();
  // Settlements run after the last bytes reach the client: wait until the ones just started are done too.
  await new Promise((r) => setTimeout(r, 200));
  await gateway.idle();

  // Budgets sized from the burn so far, so the burn-down charts show one budget heading past its limit
  // (whatever day of the month the demo runs) and two that hold.
  const now = Date.now();
  for (const [scope, id, factor, mode] of [['team', 'support', 0.7, 'soft'], ['team', 'docs', 1.5, 'hard'], ['global', '*', 1.2, 'soft']] as const) {
    const { spentMicros } = await gateway.runtime.gatekeeper.usage.budget(scope, id, periodKey('month', now));
    const { projectedMicros } = forecastSpend({ spentMicros, ...periodBounds('month', now), now });
    const limitUsd = Math.max(0.01, Math.ceil((projectedMicros * factor) / 10_000) / 100);
    await keyStore.putPolicy(scope, id, { budgets: [{ period: 'month', limitUsd, mode }] });
  }

  const io = { stdout: (t: string) => void process.stdout.write(t), stderr: (t: string) => void process.stderr.write(t) };
  const env = { TOLLGATE_CONFIG: configPath, TOLLGATE_DATA_DIR: dataDir };
  let code = await cli(['insights'], { io, env });
  if (code === 0) code = await cli(['budgets', 'list'], { io, env });
  if (code === 0) code = await cli(['report', '--html', REPORT], { io: { ...io, stdout: () => undefined }, env });
  await gateway.close();
  if (code !== 0) throw new Error(`the demo's CLI step exited ${code}`);
  log(`\nReport: ${REPORT}\nTry it yourself against the same store: TOLLGATE_DATA_DIR=${dataDir} TOLLGATE_CONFIG=${configPath} npx tollgate usage --by feature\n`);
}

run().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
