/**
 * A total over customers: a key that lets requests name their own customer carries a per-customer cap AND
 * a cap over all its customers together (a `key` budget beside the `customer` one). 60 new customer ids,
 * each within its own cap, cannot take the key past its total; through the official `openai` client, the
 * local gateway and DynamoDB Local.
 */
import { APIError } from 'openai';
import { periods, startRig, type Rig } from './support/harness';

let rig: Rig;
jest.setTimeout(120_000);

beforeAll(async () => {
  rig = await startRig();
});

afterAll(async () => {
  await rig?.close();
});

describe('A key with customer override, per-customer caps and a key total', () => {
  it('never spends more than the key total, however many customer ids its requests name', async () => {
    // 12 prompt + 100 completion tokens of gpt-4o-mini = 62 µ$ a request; reserved at 12 × 1.25 + 1,000 output.
    rig.openai.setDefault({ kind: 'ok', usage: { promptTokens: 12, completionTokens: 100 } });
    const perCustomerUsd = 0.002;
    const totalUsd = 0.01;
    const { apiKey, keyId } = await rig.newKey({
      name: 'many-customers',
      allowCustomerOverride: true,
      budgets: [
        { scope: 'customer', period: 'day', limitUsd: perCustomerUsd, mode: 'hard' },
        { scope: 'key', period: 'day', limitUsd: totalUsd, mode: 'hard' },
      ],
    });
    const client = rig.client(apiKey);
    // 60 customers, 3 requests each, all at once: each customer alone stays within its own $0.002.
    const results = await Promise.all(
      Array.from({ length: 180 }, async (_, i) => {
        try {
          await client.chat.completions.create(
            { model: 'gpt', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] },
            { headers: { 'x-tollgate-customer': `cust-${i % 60}` } },
          );
          return { ok: true as const };
        } catch (err) {
          if (!(err instanceof APIError)) throw err;
          return { ok: false as const, status: err.status, code: err.code, budget: err.headers?.get('x-tollgate-budget') };
        }
      }),
    );
    await rig.gateway.idle();
    await rig.gateway.runtime.gatekeeper.releaseLeases();

    const served = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok);
    expect(served).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // Refused by the key total (or, with admission leases holding a customer's headroom, by that customer's cap).
    for (const r of refused) expect(r).toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(refused.some((r) => r.budget === `key:${keyId}:day`)).toBe(true);

    const { day } = periods();
    const total = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, day);
    expect(total.spentMicros).toBe(served * 62);
    expect(total.spentMicros).toBeLessThanOrEqual(totalUsd * 1e6);
    expect(total.reservedMicros).toBe(0);
    // Without the key total, 60 customers × $0.002 = $0.12 could have been spent.
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(day, { keyId });
    expect(new Set(records.map((r) => r.customer)).size).toBeLessThanOrEqual(60);
    expect(records.reduce((s, r) => s + r.costMicros, 0)).toBe(total.spentMicros);
  });
});
