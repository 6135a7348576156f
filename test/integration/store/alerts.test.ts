import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BudgetAlertSink, BudgetThresholdEvent } from '../../../lambda/core/budgets';
import type { RequestOutcome } from '../../../lambda/core/gatekeeper';
import { createDynamoGatekeeper, type DynamoGatekeeper } from '../../../lambda/store/dynamo-gatekeeper';
import { KeyStore } from '../../../lambda/store/key-store';
import { formatBudgetAlert, SnsAlertSink } from '../../../lambda/store/sns-alert-sink';
import { createTestTables, deleteTestTables, type TestTables } from '../../support/dynamodb-local';
import { admission, closeGatekeeperFixture, fixedEstimate, openGatekeeperFixture, success, T0, testConfig, usage } from './fixtures';

let client: DynamoDBClient;
let tables: TestTables;
let keys: KeyStore;
let gate: DynamoGatekeeper;
const events: BudgetThresholdEvent[] = [];
const sink: BudgetAlertSink = {
  async budgetThresholdCrossed(e) {
    events.push(e);
  },
};
const config = testConfig();

/** 100 in × $1 + 100 out × $5 per M on Haiku: 600 micro-dollars. */
function haiku(): RequestOutcome {
  return { ...success(usage(100, 100)), provider: 'bedrock', upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' };
}

beforeAll(async () => {
  ({ client, tables, keys, gate } = await openGatekeeperFixture('alerts', { config, estimate: 100, gate: { alertSink: sink } }));
});

afterAll(() => closeGatekeeperFixture({ client, tables }));

beforeEach(() => {
  events.length = 0;
});

async function burst(apiKey: string, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      const a = await gate.admit(admission(config, apiKey)).catch(() => undefined);
      await a?.settle(haiku());
    }),
  );
}

describe('Method: settle (threshold alerts)', () => {
  it('notifies exactly once per threshold under 60 concurrent settlements', async () => {
    const { apiKey, key } = await keys.create({ name: 'alerted', budgets: [{ scope: 'key', period: 'month', limitUsd: 0.01, mode: 'soft' }] });
    await burst(apiKey, 60); // 36,000 micro-dollars against 10,000
    const mine = events.filter((e) => e.id === key.keyId);
    expect(mine.map((e) => e.thresholdPercent).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(mine[0]).toMatchObject({ budget: `key:${key.keyId}:month`, scope: 'key', period: '2026-11', limitUsd: 0.01, mode: 'soft' });
    const at100 = mine.find((e) => e.thresholdPercent === 100)!;
    expect(at100.spentUsd).toBeGreaterThanOrEqual(0.01);
    // Soft spend is derived from the records in batches: the batch that crossed reports its total.
    expect(at100.spentUsd).toBeLessThanOrEqual(0.036);

    await burst(apiKey, 5);
    expect(events.filter((e) => e.id === key.keyId)).toHaveLength(3); // nothing new crossed
  });

  it('uses the budget own thresholds and lists the team keys as top spenders', async () => {
    await keys.putPolicy('team', 'alerting', { budgets: [{ period: 'day', limitUsd: 0.006, mode: 'hard', thresholdsPercent: [25] }] });
    const big = await keys.create({ name: 'big', team: 'alerting' });
    const small = await keys.create({ name: 'small', team: 'alerting' });
    await burst(big.apiKey, 2);
    await burst(small.apiKey, 1);
    const teamEvents = events.filter((e) => e.scope === 'team');
    expect(teamEvents).toHaveLength(1);
    expect(teamEvents[0]).toMatchObject({ budget: 'team:alerting:day', thresholdPercent: 25, period: '2026-11-25' });
    // The rollups of the crossing request may still be in flight; the earlier one is there.
    expect(teamEvents[0].topSpenders.every((s) => s.dimension === 'key' && [big.key.keyId, small.key.keyId].includes(s.id))).toBe(true);
  });

  it('notifies once per threshold for the sharded global budget', async () => {
    const own = await createTestTables(client, 'galerts');
    try {
      const keys2 = new KeyStore({ client, table: own.keys });
      await keys2.putPolicy('global', '*', { budgets: [{ period: 'day', limitUsd: 0.01, mode: 'soft', thresholdsPercent: [50, 100, 150] }] });
      const { apiKey } = await keys2.create({ name: 'g' });
      const gate2 = createDynamoGatekeeper({ client, tables: own, config, now: () => T0, alertSink: sink, estimateInputTokens: fixedEstimate(100) });
      await Promise.all(
        Array.from({ length: 60 }, async () => {
          const a = await gate2.admit(admission(config, apiKey));
          await a.settle(haiku());
        }),
      );
      const global = events.filter((e) => e.scope === 'global');
      expect(global.map((e) => e.thresholdPercent).sort((a, b) => a - b)).toEqual([50, 100, 150]);
      for (const e of global) expect(e.spentUsd).toBeGreaterThanOrEqual((0.01 * e.thresholdPercent) / 100);
    } finally {
      await deleteTestTables(client, own);
    }
  });
});

describe('Method: SnsAlertSink.budgetThresholdCrossed', () => {
  let server: Server;
  const bodies: URLSearchParams[] = [];

  beforeAll(async () => {
    // A loopback double of the SNS Query API: records the form body, answers like Publish.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(new URLSearchParams(body));
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult>' +
            '<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const event: BudgetThresholdEvent = {
    budget: 'team:search:month',
    scope: 'team',
    id: 'search',
    period: '2026-11',
    thresholdPercent: 80,
    spentUsd: 40.5,
    limitUsd: 50,
    mode: 'hard',
    topSpenders: [{ dimension: 'key', id: 'key_1', spentUsd: 30 }],
  };

  it('publishes the alert to the topic with filterable attributes', async () => {
    const { port } = server.address() as AddressInfo;
    const sns = new SNSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await new SnsAlertSink({ client: sns, topicArn: 'arn:aws:sns:us-east-1:123456789012:tollgate-alerts' }).budgetThresholdCrossed(event);
    sns.destroy();
    const form = bodies[0];
    expect(form.get('Action')).toBe('Publish');
    expect(form.get('TopicArn')).toBe('arn:aws:sns:us-east-1:123456789012:tollgate-alerts');
    expect(form.get('Subject')).toBe('Tollgate: budget team:search:month reached 80% for 2026-11');
    expect(form.get('Message')).toContain('Spent: $40.50 of $50.00.');
    expect(form.get('MessageAttributes.entry.2.Name')).toBe('budget');
    expect(form.get('MessageAttributes.entry.2.Value.StringValue')).toBe('team:search:month');
  });

  it('formats a readable message that ends with the event as JSON', () => {
    const { message } = formatBudgetAlert({ ...event, thresholdPercent: 100, spentUsd: 50 });
    expect(message).toContain('Requests that could exceed the limit are now refused');
    expect(message).toContain('  - key key_1: $30.00');
    const json = JSON.parse(message.slice(message.lastIndexOf('\n') + 1)) as Record<string, unknown>;
    expect(json).toMatchObject({ type: 'tollgate.budget_threshold', budget: 'team:search:month', thresholdPercent: 100 });
  });
});
