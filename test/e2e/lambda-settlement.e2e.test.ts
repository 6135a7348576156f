/**
 * Durable settlement on the Lambda path, against DynamoDB Local: the gateway runtime composed from its
 * environment (as in AWS), invoked through the response-streaming emulation, with the OpenAI double
 * upstream. A container is "killed" mid-stream by freezing its DynamoDB client (nothing it sends lands any
 * more, as when the runtime freezes or kills it), and the store goes down mid-request for the outbox case.
 * The sweeper and the outbox consumer run with their own clients, as their own functions do.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../lambda/core/config';
import { costMicros, priceFor } from '../../lambda/core/pricing';
import { createLambdaRuntime, type LambdaRuntime } from '../../lambda/handlers/lambda-runtime';
import { createStreamingHandler } from '../../lambda/handlers/lambda-streaming';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../lambda/store/dynamo-gatekeeper';
import type { SettlementMessage } from '../../lambda/store/settlement';
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../support/dynamodb-local';
import { awsLambdaEmulation, captureStream, restProxyEvent } from '../support/lambda-streaming-emulator';
import { captureStdout, type StdoutCapture } from '../unit/telemetry/stdout-capture';

jest.setTimeout(60_000);

const CONFIG = (upstreamUrl: string) => ({
  providers: { openai: { kind: 'openai-compatible', baseUrl: `${upstreamUrl}/v1`, apiKey: { env: 'UNUSED' } } },
  models: { gpt: { maxOutputTokens: 500, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] } },
  deployment: { timeoutSeconds: 30 },
});
const USAGE = { promptTokens: 12, completionTokens: 40 };
const ACTUAL = costMicros({ inputTokens: 12, outputTokens: 40, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, priceFor({ providers: {}, pricing: {} }, 'openai', 'gpt-4o-mini')!);

/** A DynamoDB client that can be frozen (calls never answer: a killed container) or fail (store down). */
function switchableClient(): { client: DynamoDBClient; mode: { value: 'ok' | 'freeze' | 'fail' } } {
  const client = testDynamoClient();
  const mode = { value: 'ok' as 'ok' | 'freeze' | 'fail' };
  client.middlewareStack.add(
    (next) => async (args) => {
      if (mode.value === 'freeze') return new Promise<never>(() => undefined);
      if (mode.value === 'fail') throw Object.assign(new Error('injected: store unavailable'), { name: 'ServiceUnavailable', $retryable: {} });
      return next(args);
    },
    { step: 'initialize', name: 'switchable' },
  );
  return { client, mode };
}

let upstream: UpstreamDouble;
let tables: TestTables;
const dynamo = testDynamoClient();

let out: StdoutCapture;
beforeEach(() => (out = captureStdout())); // the runtime's request logs and EMF
afterEach(() => out.restore());

beforeAll(async () => {
  upstream = await startOpenAIDouble();
  tables = await createTestTables(dynamo, 'lsettle');
});

afterAll(async () => {
  await upstream.close();
  await deleteTestTables(dynamo, tables);
});

function runtimeWith(client: DynamoDBClient, extra: Parameters<typeof createLambdaRuntime>[1] = {}): LambdaRuntime {
  return createLambdaRuntime(
    { TOLLGATE_KEYS_TABLE: tables.keys, TOLLGATE_LEDGER_TABLE: tables.ledger, TOLLGATE_CONFIG_JSON: JSON.stringify(CONFIG(upstream.url)) },
    { dynamo: client, providerKeys: { get: async () => 'upstream-key' }, ...extra },
  );
}

/** The sweeper and outbox consumer functions: the store-only gatekeeper with their own client. */
function storeSide(): DynamoGatekeeper {
  return createDynamoGatekeeper({ client: dynamo, tables, config: parseConfig(CONFIG(upstream.url)) });
}

/** Starts a streamed invocation; resolves once the first content reached the client. */
async function startStream(runtime: LambdaRuntime, apiKey: string) {
  const handler = createStreamingHandler(runtime.app, awsLambdaEmulation);
  const cap = captureStream();
  const event = restProxyEvent({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: 'gpt', max_tokens: 100, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const done = handler(event, cap.stream, { getRemainingTimeInMillis: () => 300_000 });
  const deadline = Date.now() + 10_000;
  while (!captured(cap).includes('chat.completion.chunk')) {
    if (Date.now() > deadline) throw new Error('no chunk arrived');
    await new Promise((r) => setTimeout(r, 20));
  }
  const prelude = JSON.parse(captured(cap).split('\u0000')[0]) as { headers: Record<string, string> };
  return { done, requestId: prelude.headers['x-tollgate-request-id'], text: () => captured(cap) };
}

function captured(cap: ReturnType<typeof captureStream>): string {
  try {
    const r = cap.result();
    return JSON.stringify(r.prelude) + '\u0000' + r.body;
  } catch {
    return '';
  }
}

const today = () => new Date().toISOString().slice(0, 10);

describe('Lambda path: an invocation killed mid-stream', () => {
  it('ends, after the sweeper, in a `lost` record charged at the reservation; the budget is charged, not released', async () => {
    upstream.setDefault({ kind: 'ok', chunkCount: 30, chunkDelayMs: 50, usage: USAGE });
    const { client, mode } = switchableClient();
    const runtime = runtimeWith(client);
    const { apiKey, key } = await runtime.gatekeeper.keys.create({ name: 'killed', budgets: [{ scope: 'key', period: 'day', limitUsd: 5, mode: 'hard' }] });
    const stream = await startStream(runtime, apiKey);
    mode.value = 'freeze'; // the container is gone: whatever it still sends never lands
    void stream.done;

    const sweeper = storeSide();
    // Not before the lease expires: the request may still be running in a live container.
    expect((await sweeper.sweepExpiredReservations(Date.now())).lost).toBe(0);
    const result = await sweeper.sweepExpiredReservations(Date.now() + sweeper.leaseMs + 1);
    expect(result).toMatchObject({ lost: 1 });
    // The dead container's admission lease (admission-leases.ts) is charged in full, never released.
    expect(result.reclaimedLeases).toBe(1);
    const [record] = await sweeper.usage.requests(today(), { keyId: key.keyId });
    expect(record).toMatchObject({ requestId: stream.requestId, status: 'lost' });
    expect(record.costMicros).toBe(record.reservedMicros);
    expect(record.costMicros).toBeGreaterThanOrEqual(ACTUAL);
    const budget = await sweeper.usage.budget('key', key.keyId, today());
    expect(budget.reservedMicros).toBe(0);
    expect(budget.spentMicros).toBeGreaterThanOrEqual(record.costMicros);
    const [row] = (await sweeper.usage.usageBy('key', today())).filter((r) => r.value === key.keyId);
    expect(row).toMatchObject({ requests: 1, errors: 1, costMicros: record.costMicros });
  });
});

describe('Lambda path: the store is down when the request ends', () => {
  it('sends the settlement to the outbox; replayed twice (after the sweeper charged it as lost) it corrects the charge once', async () => {
    upstream.setDefault({ kind: 'ok', chunkCount: 10, chunkDelayMs: 20, usage: USAGE });
    const { client, mode } = switchableClient();
    const outboxed: SettlementMessage[] = [];
    // Per-request reservations (no admission lease), so the budget's correction is exact too.
    const runtime = runtimeWith(client, { outbox: { put: async (m) => void outboxed.push(m) }, settleRetryMs: 300, admissionLeases: false });
    const { apiKey, key } = await runtime.gatekeeper.keys.create({ name: 'outboxed', budgets: [{ scope: 'key', period: 'day', limitUsd: 5, mode: 'hard' }] });
    const stream = await startStream(runtime, apiKey);
    mode.value = 'fail';
    await stream.done; // the invocation returns: its settlement went to the outbox
    expect(stream.text()).toContain('[DONE]');
    expect(outboxed).toHaveLength(1);
    expect(outboxed[0].record).toMatchObject({ requestId: stream.requestId, status: 'success', costMicros: ACTUAL });

    const store = storeSide();
    // The queue was slow: the lease expired first, and the sweeper charged the worst case.
    expect(await store.sweepExpiredReservations(Date.now() + store.leaseMs + 1)).toMatchObject({ lost: 1, charged: 1 });
    const worst = (await store.usage.requests(today(), { keyId: key.keyId }))[0].costMicros;
    expect(worst).toBeGreaterThan(ACTUAL);

    // The consumer gets the message twice (SQS is at-least-once): it counts once.
    const message = JSON.parse(JSON.stringify(outboxed[0])) as SettlementMessage;
    await store.replaySettlement(message);
    await store.replaySettlement(message);
    const records = await store.usage.requests(today(), { keyId: key.keyId });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'success', costMicros: ACTUAL });
    expect(await store.usage.budget('key', key.keyId, today())).toMatchObject({ spentMicros: ACTUAL, reservedMicros: 0, requests: 1 });
    const [row] = (await store.usage.usageBy('key', today())).filter((r) => r.value === key.keyId);
    expect(row).toMatchObject({ requests: 1, errors: 0, costMicros: ACTUAL, inputTokens: 12, outputTokens: 40 });
  });
});
