import type { RequestOutcome } from '../../../lambda/core/gatekeeper';
import { buildUsageRecord, dimensionValues, recordTtlSeconds } from '../../../lambda/core/metering';

const admittedAt = Date.UTC(2026, 10, 30, 23, 59, 59);
const outcome: RequestOutcome = {
  status: 'success',
  httpStatus: 200,
  stream: true,
  provider: 'bedrock',
  upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
  usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 2, cacheWriteTokens: 0, reasoningTokens: 0 },
  usageEstimated: true,
  ttftMs: 300,
  totalMs: 4_000,
  attempts: 2,
  fallback: true,
  endedAt: admittedAt + 4_000,
};

describe('Method: buildUsageRecord', () => {
  it('attributes the record to the admission day and keeps every field the reports need', () => {
    const r = buildUsageRecord({ requestId: 'req_1', admittedAt, attribution: { keyId: 'key_1', team: 't' }, model: 'gpt-4o-mini', outcome, costMicros: 35, unpriced: false });
    expect(r).toMatchObject({
      day: '2026-11-30',
      keyId: 'key_1',
      team: 't',
      provider: 'bedrock',
      inputTokens: 10,
      cacheReadTokens: 2,
      costMicros: 35,
      estimated: true,
      fallback: true,
      attempts: 2,
      ttftMs: 300,
    });
  });

  it('records zero tokens and no estimate flag when nothing was generated', () => {
    const r = buildUsageRecord({ requestId: 'req_2', admittedAt, attribution: { keyId: 'key_1' }, model: 'm', outcome: { ...outcome, usage: undefined }, costMicros: 0, unpriced: false });
    expect(r).toMatchObject({ inputTokens: 0, outputTokens: 0, estimated: false });
  });
});

describe('Method: dimensionValues', () => {
  it('rolls missing dimensions up under "-"', () => {
    expect(dimensionValues({ keyId: 'key_1', model: 'm', feature: 'qa' })).toEqual([
      { dimension: 'key', value: 'key_1' },
      { dimension: 'team', value: '-' },
      { dimension: 'customer', value: '-' },
      { dimension: 'feature', value: 'qa' },
      { dimension: 'model', value: 'm' },
      { dimension: 'environment', value: '-' },
    ]);
  });
});

describe('Method: recordTtlSeconds', () => {
  it('expires records ttlDays after they ended', () => {
    expect(recordTtlSeconds(1_000_000, 90)).toBe(1_000 + 90 * 86_400);
  });
});
