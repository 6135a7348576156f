/**
 * No store round trip between a request and its upstream call (issue 13), without giving up the crash
 * accounting (issue 9): the request's lease index entry is written once the upstream call has started, and
 * the client's first byte waits for it. Shown with a store whose index-entry writes take 400 ms: the upstream
 * gets the request long before that write lands (and the write starts only after the upstream request did),
 * and the client sees nothing before it has.
 * Official `openai` client → local gateway (DynamoDB Local) → OpenAI double.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import OpenAI from 'openai';
import { parseConfig } from '../../lambda/core/config';
import { REQUEST_START_CHANNEL } from '../../lambda/core/http1-pool';
import { startLocalGateway, type LocalGateway } from '../../lambda/local/gateway';
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../support/dynamodb-local';

const INDEX_WRITE_DELAY_MS = 400;
/** The delay the middleware applies now (a test of a hung store raises it). */
let indexWriteDelayMs = INDEX_WRITE_DELAY_MS;
const dynamo = testDynamoClient();
let tables: TestTables;
let upstream: UpstreamDouble;
let gateway: LocalGateway;
/** When each delayed index-entry write finished (epoch ms), in order. */
const indexWritten: number[] = [];
/** When each index-entry write was handed to the store client, and each upstream request started (performance.now()). */
const indexStarted: number[] = [];
const upstreamStarted: number[] = [];
const onUpstreamRequest = (m: unknown) => {
  if ((m as { path: string }).path.startsWith('/v1/chat')) upstreamStarted.push(performance.now());
};

beforeAll(async () => {
  tables = await createTestTables(dynamo, 'admpath');
  upstream = await startOpenAIDouble();
  upstream.setDefault({ kind: 'ok', chunkCount: 3, chunkDelayMs: 10, usage: { promptTokens: 10, completionTokens: 5 } });
  const config = parseConfig({
    providers: { openai: { kind: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: { env: 'ADM_KEY' } } },
    models: { gpt: { maxOutputTokens: 100, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  });
  gateway = await startLocalGateway({ config, store: { client: dynamo, tables }, env: { ADM_KEY: 'sk-adm' }, telemetry: false, sweepIntervalMs: 0 });
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      // Marshalled or not, depending on where the document client's own middleware ran.
      const pk = (args.input as { Item?: { pk?: string | { S?: string } } }).Item?.pk;
      const delayed = context.commandName === 'PutItemCommand' && (typeof pk === 'string' ? pk : pk?.S)?.startsWith('lease#') === true;
      if (delayed) indexStarted.push(performance.now());
      if (delayed) await new Promise((r) => setTimeout(r, indexWriteDelayMs));
      const out = await next(args);
      if (delayed) indexWritten.push(Date.now());
      return out;
    },
    { step: 'initialize', name: 'slowIndexWrites' },
  );
  // The gateway runs in this process: its HTTP client's channel says when it started its upstream request.
  subscribe(REQUEST_START_CHANNEL, onUpstreamRequest);
});

afterAll(async () => {
  unsubscribe(REQUEST_START_CHANNEL, onUpstreamRequest);
  await gateway.close();
  await upstream.close();
  await deleteTestTables(dynamo, tables);
});

describe.each([
  ['a key with a hard budget and RPM (admitted from leases)', { budgets: [{ scope: 'key' as const, period: 'day' as const, limitUsd: 10, mode: 'hard' as const }], rateLimits: { rpm: 1000 } }],
  ['a key without limits or budgets', {}],
])('%s', (_name, policy) => {
  it('calls the upstream before the index entry lands, and sends the first byte only after it has', async () => {
    const { apiKey, key } = await gateway.runtime.gatekeeper.keys.create({ name: 'adm', ...policy });
    const client = new OpenAI({ apiKey, baseURL: gateway.url, maxRetries: 0 });
    // Warm the key cache and the leases: steady state.
    await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'warm' }] });
    await gateway.idle();
    const before = upstream.requests.length;
    const writes = indexWritten.length;
    const [started, calls] = [indexStarted.length, upstreamStarted.length];
    const sentAt = Date.now();
    const arrived = upstream.waitForRequests(before + 1, 5_000).then(() => Date.now());
    const stream = await client.chat.completions.create({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let firstByteAt = 0;
    for await (const _ of stream) firstByteAt ||= Date.now();
    const upstreamAt = await arrived;
    expect(indexWritten.length).toBe(writes + 1);
    const writtenAt = indexWritten[writes];
    // The upstream call did not wait for the store...
    expect(upstreamAt - sentAt).toBeLessThan(INDEX_WRITE_DELAY_MS / 2);
    expect(upstreamAt).toBeLessThan(writtenAt);
    // Nor did it wait for the entry's own work (marshalling, signing, its HTTP request): that starts after.
    expect(upstreamStarted.length).toBe(calls + 1);
    expect(indexStarted.length).toBe(started + 1);
    expect(indexStarted[started]).toBeGreaterThan(upstreamStarted[calls]);
    // ...and the client saw nothing before the entry that lets the sweeper record this request was in.
    expect(firstByteAt).toBeGreaterThanOrEqual(writtenAt);
    await gateway.idle();
    const records = await gateway.runtime.gatekeeper.usage.requests(new Date().toISOString().slice(0, 10), { keyId: key.keyId });
    expect(records.filter((r) => r.status === 'success')).toHaveLength(2);
  });
});

describe('A store that hangs on the index entry', () => {
  it('holds the answer at most 2 s, then answers (the record still comes at settlement)', async () => {
    const { apiKey, key } = await gateway.runtime.gatekeeper.keys.create({ name: 'hung' });
    const client = new OpenAI({ apiKey, baseURL: gateway.url, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'warm' }] });
    indexWriteDelayMs = 6_000;
    try {
      const t0 = Date.now();
      const answer = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] });
      const waited = Date.now() - t0;
      expect(answer.choices[0].message.content).toBeTruthy();
      expect(waited).toBeGreaterThanOrEqual(1_900);
      expect(waited).toBeLessThan(5_000);
      await gateway.idle();
      const records = await gateway.runtime.gatekeeper.usage.requests(new Date().toISOString().slice(0, 10), { keyId: key.keyId });
      expect(records.filter((r) => r.status === 'success')).toHaveLength(2);
    } finally {
      indexWriteDelayMs = INDEX_WRITE_DELAY_MS;
    }
  });
});
