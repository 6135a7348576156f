/**
 * The cap that is priced is the cap that is sent, end to end: the official `openai` client through the
 * local gateway (DynamoDB Local) against an OpenAI double that talks until it is stopped, i.e. generates
 * and bills exactly the output cap it was sent, or 100,000 tokens (its own limit) when it was sent none.
 */
import OpenAI, { APIError } from 'openai';
import { periods, startRig, type Rig } from './support/harness';

let rig: Rig;
jest.setTimeout(120_000);

beforeAll(async () => {
  rig = await startRig();
});

afterAll(async () => {
  await rig?.close();
});

const PROMPT_TOKENS = 12;
const HOST_LIMIT = 100_000;
/** gpt-4o-mini's real maximum output (core/model-limits.ts). */
const GPT_4O_MINI_MAX_OUTPUT = 16_384;

/** gpt-4o-mini at $0.15 in / $0.60 out per million: micro-dollars, rounded up per request, by hand. */
function listPriceMicros(promptTokens: number, completionTokens: number): number {
  // 0.15 µ$ and 0.60 µ$ a token = 15 and 60 hundredths of a micro-dollar.
  return Math.ceil((promptTokens * 15 + completionTokens * 60) / 100);
}

function forwardedCaps(fromIndex: number): Array<number | undefined> {
  return rig.openai.requests.slice(fromIndex).map((r) => {
    const body = r.body as Record<string, unknown>;
    const fields = ['max_tokens', 'max_completion_tokens'].filter((f) => body[f] !== undefined);
    return fields.length === 1 ? (body[fields[0]] as number) : undefined;
  });
}

async function ask(client: OpenAI, body: Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, 'messages'>, stream = false): Promise<{ ok: boolean; status?: number; code?: string | null }> {
  try {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me everything.' }];
    if (stream) {
      const s = await client.chat.completions.create({ ...body, messages, stream: true });
      for await (const _ of s) void _;
    } else {
      await client.chat.completions.create({ ...body, messages });
    }
    return { ok: true };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    return { ok: false, status: err.status, code: err.code };
  }
}

describe('A request without max_tokens under a hard budget', () => {
  it('is capped upstream at the output it was priced for: what the upstream billed stays within the cap and equals the recorded spend', async () => {
    rig.openai.setDefault({ kind: 'ok', chunkCount: 3, runsToCap: { promptTokens: PROMPT_TOKENS, defaultMaxTokens: HOST_LIMIT } });
    const capUsd = 0.05;
    const { apiKey, keyId } = await rig.newKey({ name: 'no-max-tokens', budgets: [{ scope: 'key', period: 'day', limitUsd: capUsd, mode: 'hard' }] });
    const client = rig.client(apiKey);
    const before = rig.openai.requests.length;

    // Direct provider/model addressing names no ceiling: priced at gpt-4o-mini's real maximum output.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(client, { model: 'openai/gpt-4o-mini' }, i % 2 === 0)));
    await rig.gateway.idle();
    await rig.gateway.runtime.gatekeeper.releaseLeases();

    const served = rig.openai.requests.slice(before);
    expect(served.length).toBe(results.filter((r) => r.ok).length);
    expect(served.length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.ok).every((r) => r.status === 429 && r.code === 'insufficient_quota')).toBe(true);
    // Every upstream call carried exactly one cap, the one that was priced.
    expect(forwardedCaps(before)).toEqual(served.map(() => GPT_4O_MINI_MAX_OUTPUT));

    const upstreamBilled = served.reduce((sum, r) => sum + listPriceMicros(r.billed!.promptTokens, r.billed!.completionTokens), 0);
    expect(upstreamBilled).toBeLessThanOrEqual(capUsd * 1e6);

    const { day } = periods();
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(day, { keyId });
    expect(records.reduce((sum, r) => sum + r.costMicros, 0)).toBe(upstreamBilled);
    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, day);
    expect(budget.spentMicros).toBe(upstreamBilled);
    expect(budget.reservedMicros).toBe(0);
  });

  it("sends an alias's maxOutputTokens when the client names no cap", async () => {
    rig.openai.setDefault({ kind: 'ok', runsToCap: { promptTokens: PROMPT_TOKENS, defaultMaxTokens: HOST_LIMIT } });
    const { apiKey } = await rig.newKey({ name: 'alias-cap' });
    const before = rig.openai.requests.length;
    expect(await ask(rig.client(apiKey), { model: 'gpt' })).toEqual({ ok: true });
    expect(await ask(rig.client(apiKey), { model: 'gpt', max_tokens: 50_000 }, true)).toEqual({ ok: true });
    expect(forwardedCaps(before)).toEqual([1_000, 1_000]);
  });
});

describe('A request with both max_tokens and max_completion_tokens', () => {
  it('reserves for, forwards and is billed at the smaller one', async () => {
    rig.openai.setDefault({ kind: 'ok', runsToCap: { promptTokens: PROMPT_TOKENS, defaultMaxTokens: HOST_LIMIT } });
    // A budget that covers 1 output token but not 50,000: the reservation must be for the smaller one.
    const { apiKey, keyId } = await rig.newKey({ name: 'both-fields', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.0005, mode: 'hard' }] });
    const before = rig.openai.requests.length;
    expect(await ask(rig.client(apiKey), { model: 'openai/gpt-4o-mini', max_tokens: 50_000, max_completion_tokens: 1 })).toEqual({ ok: true });
    expect(forwardedCaps(before)).toEqual([1]);
    expect((rig.openai.requests[before].body as Record<string, unknown>).max_tokens).toBeUndefined();
    await rig.gateway.idle();
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
    expect(records.map((r) => r.outputTokens)).toEqual([1]);
    expect(records[0].costMicros).toBe(listPriceMicros(PROMPT_TOKENS, 1));
  });
});

describe('A request with a huge n', () => {
  // Priced at 1,258,294 µ$ (128 × 16,384 output tokens), 25× the cap: the first request on a counter that
  // does not exist yet must be refused too (admission leases once let it through).
  it('is priced n times over and refused before any upstream call when the budget cannot cover it', async () => {
    const { apiKey, keyId } = await rig.newKey({ name: 'huge-n', budgets: [{ scope: 'key', period: 'day', limitUsd: 0.05, mode: 'hard' }] });
    const before = rig.openai.requests.length;
    // 128 × 16,384 tokens × $0.60/M ≈ $1.26 > $0.05.
    expect(await ask(rig.client(apiKey), { model: 'openai/gpt-4o-mini', n: 128 })).toEqual({ ok: false, status: 429, code: 'insufficient_quota' });
    expect(rig.openai.requests.length).toBe(before);
    await rig.gateway.idle();
    expect(await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId })).toEqual([]);
  });
});

describe('TPM admission', () => {
  it('counts the output cap that is sent, so a request without max_tokens cannot bypass the limit', async () => {
    rig.openai.setDefault({ kind: 'ok', chunkCount: 2, chunkDelayMs: 200, runsToCap: { promptTokens: PROMPT_TOKENS, defaultMaxTokens: HOST_LIMIT } });
    // Room for one request at gpt-4o-mini's 16,384-token cap, not two.
    const { apiKey } = await rig.newKey({ name: 'tpm', rateLimits: { tpm: 20_000 } });
    const second = new Date().getUTCSeconds();
    if (second >= 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const results = await Promise.all([1, 2].map(() => ask(rig.client(apiKey), { model: 'openai/gpt-4o-mini' })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, status: 429, code: 'tokens_rate_limit_exceeded' });
  });
});
