import { budgetName, parsePeriodKey, periodKey, resolveBudgets, shardCaps, thresholdsCrossed } from '../../../lambda/core/budgets';

const a = { keyId: 'key_1', team: 'search', customer: 'acme', feature: 'qa' };

describe('Method: periodKey', () => {
  it('uses UTC days and months', () => {
    const lastMs = Date.UTC(2026, 10, 30, 23, 59, 59, 999);
    expect(periodKey('day', lastMs)).toBe('2026-11-30');
    expect(periodKey('month', lastMs)).toBe('2026-11');
    expect(periodKey('day', lastMs + 1)).toBe('2026-12-01');
    expect(periodKey('month', lastMs + 1)).toBe('2026-12');
  });

  it('parses period keys back', () => {
    expect(parsePeriodKey('2026-11-25')).toBe('day');
    expect(parsePeriodKey('2026-11')).toBe('month');
    expect(parsePeriodKey('2026')).toBeUndefined();
  });
});

describe('Method: resolveBudgets', () => {
  it('fills an omitted id from the request attribution and drops rules the request has no value for', () => {
    const out = resolveBudgets(
      [
        { scope: 'key', period: 'day', limitUsd: 1, mode: 'hard' },
        { scope: 'customer', period: 'month', limitUsd: 5, mode: 'soft' },
        { scope: 'global', period: 'month', limitUsd: 100, mode: 'hard' },
      ],
      { keyId: 'key_1', customer: undefined },
      [50, 100],
    );
    expect(out.map(budgetName)).toEqual(['key:key_1:day', 'global:*:month']);
    expect(out[0]).toMatchObject({ limitMicros: 1_000_000, thresholdsPercent: [50, 100] });
  });

  it('keeps the strictest of two rules for the same budget', () => {
    const [b] = resolveBudgets(
      [
        { scope: 'team', id: 'search', period: 'month', limitUsd: 50, mode: 'soft', thresholdsPercent: [90] },
        { scope: 'team', period: 'month', limitUsd: 20, mode: 'hard' },
      ],
      a,
      [50],
    );
    expect(b).toEqual({ scope: 'team', id: 'search', period: 'month', limitMicros: 20_000_000, mode: 'hard', thresholdsPercent: [50, 90] });
  });
});

describe('Method: shardCaps', () => {
  it('splits a cap so the shares sum to exactly the cap', () => {
    expect(shardCaps(10, 4)).toEqual([3, 3, 2, 2]);
    expect(shardCaps(1_000_003, 10).reduce((x, y) => x + y, 0)).toBe(1_000_003);
  });
});

describe('Method: thresholdsCrossed', () => {
  it('returns the thresholds between the spend before and after', () => {
    expect(thresholdsCrossed(400, 900, 1_000, [50, 80, 100])).toEqual([50, 80]);
    expect(thresholdsCrossed(500, 600, 1_000, [50])).toEqual([]); // already at 50% before
    expect(thresholdsCrossed(499, 500, 1_000, [50])).toEqual([50]);
    expect(thresholdsCrossed(900, 1_600, 1_000, [100, 150])).toEqual([100, 150]);
  });

  it('never fires for a zero limit or no new spend', () => {
    expect(thresholdsCrossed(0, 10, 0, [50])).toEqual([]);
    expect(thresholdsCrossed(10, 10, 100, [10])).toEqual([]);
  });
});
