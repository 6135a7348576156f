/**
 * Money under concurrency, end to end: hundreds of simultaneous requests from the official `openai`
 * client through the local gateway (store on DynamoDB Local) against hard budgets and rate limits.
 * The cap must hold exactly, every admitted request must be metered, and no reservation may be left.
 */
import OpenAI, { APIError } from 'openai';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, periods, startRig, type Rig } from './support/harness';

let rig: Rig;
// Hundreds of requests through one process on a small CI machine: generous, bounded time.
jest.setTimeout(180_000);

beforeAll(async () => {
  rig = await startRig({ captureLogs: true });
});

afterAll(async () => {
  await rig?.close();
});

type Result = { ok: true; requestId: string } | { ok: false; status: number; code: string | null | undefined; headers: Headers };

async function send(client: OpenAI, stream: boolean): Promise<Result> {
  try {
    if (stream) {
      const { data, response } = await client.chat.completions
        .create({ model: 'gpt', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Say something.' }] })
        .withResponse();
      for await (const _ of data) void _;
      return { ok: true, requestId: response.headers.get('x-tollgate-request-id')! };
    }
    const { response } = await client.chat.completions
      .create({ model: 'gpt', max_tokens: 100, messages: [{ role: 'user', content: 'Say something.' }] })
      .withResponse();
    return { ok: true, requestId: response.headers.get('x-tollgate-request-id')! };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    return { ok: false, status: err.status ?? 0, code: err.code, headers: err.headers ?? new Headers() };
  }
}

/** Rate-limit windows are UTC minutes: start a burst early in a minute so it cannot straddle two. */
async function awayFromMinuteBoundary(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
}

describe('Hard budgets under concurrency', () => {
  it('admits 300 concurrent requests only as far as the cap covers, meters every admitted one, and leaks nothing', async () => {
    // 12 prompt + 100 completion tokens of gpt-4o-mini ($0.15 / $0.60 per M) = 61.8 µ$ → 62 µ$ a request.
    rig.openai.setDefault({ kind: 'ok', chunkCount: 4, chunkDelayMs: 2, usage: { promptTokens: 12, completionTokens: 100 } });
    const capUsd = 0.005;
    const { apiKey, keyId } = await rig.newKey({ name: 'budgeted', budgets: [{ scope: 'key', period: 'day', limitUsd: capUsd, mode: 'hard' }] });
    const client = rig.client(apiKey);

    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => send(client, i % 2 === 0)));
    await rig.gateway.idle();

    const admitted = results.filter((r): r is Extract<Result, { ok: true }> => r.ok);
    const rejected = results.filter((r): r is Extract<Result, { ok: false }> => !r.ok);
    expect(admitted.length).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) {
      expect(r.status).toBe(429);
      expect(r.code).toBe('insufficient_quota');
    }

    const { day } = periods();
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(day, { keyId });
    expect(records).toHaveLength(admitted.length);
    expect(new Set(records.map((r) => r.requestId))).toEqual(new Set(admitted.map((r) => r.requestId)));
    const recordedMicros = records.reduce((sum, r) => sum + r.costMicros, 0);
    expect(recordedMicros).toBe(admitted.length * 62);
    expect(recordedMicros).toBeLessThanOrEqual(capUsd * 1e6);

    // Admission leases still hold headroom for the next requests; once given back nothing stays reserved.
    await rig.gateway.runtime.gatekeeper.releaseLeases();
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, day);
    expect(budget.spentMicros).toBe(recordedMicros);
    expect(budget.reservedMicros).toBe(0);
    // The cap was actually used: what is left cannot cover one more worst case, or nothing was refused.
    expect(capUsd * 1e6 - budget.spentMicros).toBeLessThan(200);
  });

  it('holds a team budget shared by several keys', async () => {
    rig.openai.setDefault({ kind: 'ok', usage: { promptTokens: 12, completionTokens: 100 } });
    await rig.gateway.runtime.gatekeeper.keys.putPolicy('team', 'payments', { budgets: [{ period: 'day', limitUsd: 0.002, mode: 'hard' }] });
    const keys = await Promise.all([1, 2, 3].map((i) => rig.newKey({ name: `payments-${i}`, team: 'payments' })));
    const clients = keys.map((k) => rig.client(k.apiKey));
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => send(clients[i % 3], false)));
    await rig.gateway.idle();
    const ok = results.filter((r) => r.ok).length;
    await rig.gateway.runtime.gatekeeper.releaseLeases();
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('team', 'payments', periods().day);
    expect(budget.spentMicros).toBe(ok * 62);
    expect(budget.spentMicros).toBeLessThanOrEqual(2_000);
    expect(budget.reservedMicros).toBe(0);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.status === 429 && r.code === 'insufficient_quota')).toBe(true);
  });
});

describe('Rate limits under concurrency', () => {
  it('admits exactly N of 100 concurrent requests in a minute window and tells the rest when to retry', async () => {
    rig.openai.setDefault({ kind: 'ok' });
    const { apiKey } = await rig.newKey({ name: 'rpm-limited', rateLimits: { rpm: 25 } });
    const client = rig.client(apiKey);
    await awayFromMinuteBoundary();
    const results = await Promise.all(Array.from({ length: 100 }, () => send(client, false)));
    const limited = results.filter((r): r is Extract<Result, { ok: false }> => !r.ok);
    expect(results.filter((r) => r.ok)).toHaveLength(25);
    expect(limited).toHaveLength(75);
    for (const r of limited) {
      expect(r.status).toBe(429);
      expect(r.code).not.toBe('insufficient_quota');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('25');
      expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    }
  });
});

describe('Logs', () => {
  it('never contain a gateway key or a provider key, and carry one line per request with the key id', async () => {
    const { apiKey, keyId } = await rig.newKey({ name: 'log-check' });
    await send(rig.client(apiKey), true);
    await send(rig.client(apiKey), false);
    await rig.client('tg_wrong-key-that-looks-real-0000').chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
    await rig.gateway.idle();
    const text = rig.logs.join('');
    expect(text).toContain(keyId);
    for (const secret of [apiKey, 'tg_wrong-key-that-looks-real', OPENAI_UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, 'e2e-secret']) {
      expect(text).not.toContain(secret);
    }
    const lines = text.split('\n').filter((l) => l.includes(`"keyId":"${keyId}"`) && l.includes('"message"'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it('carry the prompt and completion only for keys that opted in to content logging', async () => {
    rig.openai.setDefault({ kind: 'ok', text: 'the-secret-answer-text' });
    const quiet = await rig.newKey({ name: 'quiet' });
    const verbose = await rig.newKey({ name: 'verbose', logContent: true });
    const ask = (key: string, words: string) =>
      rig.client(key).chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: words }] });
    await ask(quiet.apiKey, 'quiet-prompt-words');
    await ask(verbose.apiKey, 'verbose-prompt-words');
    await rig.gateway.idle();
    const text = rig.logs.join('');
    expect(text).not.toContain('quiet-prompt-words');
    const line = text.split('\n').find((l) => l.includes(`"keyId":"${verbose.keyId}"`) && l.includes('"message":"request"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ prompt: 'user: verbose-prompt-words', completion: 'the-secret-answer-text' });
    const quietLine = text.split('\n').find((l) => l.includes(`"keyId":"${quiet.keyId}"`) && l.includes('"message":"request"'));
    expect(quietLine).not.toContain('the-secret-answer-text');
  });
});
