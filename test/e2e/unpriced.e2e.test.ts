/**
 * Unpriced is refused, model names are checked, end to end: the official `openai` client through the local
 * gateway (DynamoDB Local) against the OpenAI double. A refused request reaches no upstream and leaves no
 * record; a provider that opted in to $0 metering is served, recorded at $0 and counted in UnpricedRequests.
 */
import OpenAI, { APIError } from 'openai';
import { periods, startRig, type Rig } from './support/harness';

jest.setTimeout(120_000);

async function ask(client: OpenAI, model: string): Promise<{ ok: true } | { ok: false; status?: number; code?: string | null; param?: string | null }> {
  try {
    await client.chat.completions.create({ model, max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] });
    return { ok: true };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    return { ok: false, status: err.status, code: err.code, param: err.param };
  }
}

/** EMF documents the rig captured that carry `name`. */
function emfValues(rig: Rig, name: string): number[] {
  return rig.logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"_aws"') && l.includes(`"${name}"`))
    .map((l) => (JSON.parse(l) as Record<string, number>)[name]);
}

describe('By default', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ captureLogs: true });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it.each([
    ['without a budget', undefined],
    ['under a hard budget', [{ scope: 'key' as const, period: 'day' as const, limitUsd: 5, mode: 'hard' as const }]],
  ])('refuses a model no price is known for with 400 model_not_priced, %s, before any upstream call and with nothing metered', async (_, budgets) => {
    rig.openai.setDefault({ kind: 'ok' });
    const { apiKey, keyId } = await rig.newKey({ name: 'unpriced', budgets });
    const before = rig.openai.requests.length;
    expect(await ask(rig.client(apiKey), 'openai/acme-unlisted-7b')).toEqual({ ok: false, status: 400, code: 'model_not_priced', param: 'model' });
    expect(rig.openai.requests.length).toBe(before);
    await rig.gateway.idle();
    expect(await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId })).toEqual([]);
    // A priced model through the same provider is served.
    expect(await ask(rig.client(apiKey), 'openai/gpt-4o-mini')).toEqual({ ok: true });
  });

  it.each([
    ['1,000 bytes long', `openai/${'m'.repeat(993)}`],
    ['257 characters long', 'x'.repeat(257)],
    ['carrying the key delimiter #', 'openai/gpt-4o-mini#x'],
    ['carrying a space', 'openai/gpt 4o'],
  ])('answers 400 for a model name %s, before any upstream call or write', async (_, model) => {
    const { apiKey, keyId } = await rig.newKey({ name: 'bad-model-name' });
    const before = rig.openai.requests.length;
    const result = await ask(rig.client(apiKey), model);
    expect(result).toMatchObject({ ok: false, status: 400, param: 'model' });
    expect(rig.openai.requests.length).toBe(before);
    await rig.gateway.idle();
    expect(await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId })).toEqual([]);
  });
});

describe('A provider that opted in with meterUnpricedAtZero', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ captureLogs: true, providerOverrides: { openai: { meterUnpricedAtZero: true } } });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('serves its unpriced models, records them at $0 flagged unpriced, and counts each in UnpricedRequests', async () => {
    rig.openai.setDefault({ kind: 'ok', usage: { promptTokens: 10, completionTokens: 20 } });
    const { apiKey, keyId } = await rig.newKey({ name: 'opted-in' });
    expect(await ask(rig.client(apiKey), 'openai/acme-unlisted-7b')).toEqual({ ok: true });
    expect(await ask(rig.client(apiKey), 'openai/acme-unlisted-7b')).toEqual({ ok: true });
    expect(await ask(rig.client(apiKey), 'openai/gpt-4o-mini')).toEqual({ ok: true });
    await rig.gateway.idle();

    const records = await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
    const unpriced = records.filter((r) => r.upstreamModel === 'acme-unlisted-7b');
    expect(unpriced).toHaveLength(2);
    for (const r of unpriced) expect(r).toMatchObject({ costMicros: 0, unpriced: true, outputTokens: 20 });
    expect(records.find((r) => r.upstreamModel === 'gpt-4o-mini')).toMatchObject({ unpriced: false, costMicros: Math.ceil(10 * 0.15 + 20 * 0.6) });

    // One UnpricedRequests datapoint per request (aggregate and by model): 1 for each unpriced one, 0 otherwise.
    const values = emfValues(rig, 'UnpricedRequests');
    expect(values.filter((v) => v === 1)).toHaveLength(2);
    expect(values.filter((v) => v === 0)).toHaveLength(1);
  });
});
