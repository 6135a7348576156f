/**
 * Money with several gateways on one store: three local gateways (each with its own admission leases, as
 * separate processes or Lambda containers have) share DynamoDB Local and one key. A concurrent race
 * through all of them must hold the hard cap exactly, meter every admitted request, leave nothing reserved
 * once the leases go back, and never admit more than the key's RPM in a minute.
 *
 * RPM bound stated and tested: admitted ≤ RPM always; admitted ≥ RPM − (gateways × 2) in a burst, because a
 * gateway may hold a slot or two of its lease that none of its own requests needed (given back when idle).
 */
import OpenAI, { APIError } from 'openai';
import { periods, startRig, type Rig } from './support/harness';

let rig: Rig;
jest.setTimeout(180_000);
const GATEWAYS = 3;

beforeAll(async () => {
  rig = await startRig({ gateways: GATEWAYS });
});

afterAll(async () => {
  await rig?.close();
});

type Result = { ok: true; requestId: string } | { ok: false; status: number; code: string | null | undefined };

async function send(client: OpenAI, stream: boolean): Promise<Result> {
  try {
    const body = { model: 'gpt', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Say something.' }] };
    if (stream) {
      const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
      for await (const _ of data) void _;
      return { ok: true, requestId: response.headers.get('x-tollgate-request-id')! };
    }
    const { response } = await client.chat.completions.create(body).withResponse();
    return { ok: true, requestId: response.headers.get('x-tollgate-request-id')! };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    return { ok: false, status: err.status ?? 0, code: err.code };
  }
}

async function idleAndGiveBack(): Promise<void> {
  for (const g of rig.gateways) await g.idle();
  for (const g of rig.gateways) await g.runtime.gatekeeper.releaseLeases();
}

describe('Several gateways on one store', () => {
  it('hold a hard cap exactly in a 300-request race through all of them, and meter every admitted request', async () => {
    // 12 prompt + 100 completion tokens of gpt-4o-mini = 62 µ$ a request.
    rig.openai.setDefault({ kind: 'ok', chunkCount: 4, chunkDelayMs: 2, usage: { promptTokens: 12, completionTokens: 100 } });
    const capUsd = 0.005;
    const { apiKey, keyId } = await rig.newKey({ name: 'shared-cap', budgets: [{ scope: 'key', period: 'day', limitUsd: capUsd, mode: 'hard' }] });
    const clients = rig.gateways.map((gateway) => rig.client(apiKey, { gateway }));

    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => send(clients[i % GATEWAYS], i % 2 === 0)));
    await idleAndGiveBack();

    const admitted = results.filter((r): r is Extract<Result, { ok: true }> => r.ok);
    const rejected = results.filter((r): r is Extract<Result, { ok: false }> => !r.ok);
    expect(admitted.length).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect([r.status, r.code]).toEqual([429, 'insufficient_quota']);

    const { day } = periods();
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(day, { keyId });
    expect(new Set(records.map((r) => r.requestId))).toEqual(new Set(admitted.map((r) => r.requestId)));
    const recordedMicros = records.reduce((sum, r) => sum + r.costMicros, 0);
    expect(recordedMicros).toBe(admitted.length * 62);
    // 0 overspend: what the upstream billed (= recorded) is within the cap.
    expect(recordedMicros).toBeLessThanOrEqual(capUsd * 1e6);

    const budget = await rig.gateway.runtime.gatekeeper.usage.budget('key', keyId, day);
    expect(budget.spentMicros).toBe(recordedMicros);
    expect(budget.reservedMicros).toBe(0);
  });

  it('never admit more than the key RPM in a minute between them (and admit it nearly all)', async () => {
    rig.openai.setDefault({ kind: 'ok' });
    const rpm = 30;
    const { apiKey } = await rig.newKey({ name: 'shared-rpm', rateLimits: { rpm } });
    const clients = rig.gateways.map((gateway) => rig.client(apiKey, { gateway }));
    const second = new Date().getUTCSeconds();
    if (second >= 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => send(clients[i % GATEWAYS], false)));
    const ok = results.filter((r) => r.ok).length;
    expect(ok).toBeLessThanOrEqual(rpm);
    expect(ok).toBeGreaterThanOrEqual(rpm - GATEWAYS * 2);
    for (const r of results) if (!r.ok) expect(r.status).toBe(429);
    await idleAndGiveBack();
  });
});
