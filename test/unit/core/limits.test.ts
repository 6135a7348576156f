import { admissionTokens, formatReset, minuteWindow, rateLimitHeaders, retryAfterSeconds, type RateState } from '../../../lambda/core/limits';

const now = Date.UTC(2026, 10, 25, 10, 30, 15, 250);
const window = minuteWindow(now);

describe('Method: minuteWindow', () => {
  it('is the UTC minute containing the instant', () => {
    expect(window).toEqual({ label: '2026-11-25T10:30', startMs: Date.UTC(2026, 10, 25, 10, 30), endMs: Date.UTC(2026, 10, 25, 10, 31) });
  });
});

describe('Method: formatReset', () => {
  it('uses OpenAI duration strings', () => {
    expect(formatReset(250)).toBe('250ms');
    expect(formatReset(44_750)).toBe('45s');
    expect(formatReset(360_000)).toBe('6m0s');
  });
});

describe('Method: rateLimitHeaders', () => {
  const key: RateState = { scope: 'key', limits: { rpm: 60, tpm: 10_000 }, requests: 10, tokens: 9_000, window };
  const team: RateState = { scope: 'team', limits: { rpm: 100 }, requests: 95, tokens: 0, window };

  it('reports the tightest limit for requests and for tokens', () => {
    expect(rateLimitHeaders([key, team], now)).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '5',
      'x-ratelimit-reset-requests': '45s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '1000',
      'x-ratelimit-reset-tokens': '45s',
    });
  });

  it('sends nothing without limits', () => {
    expect(rateLimitHeaders([], now)).toEqual({});
  });
});

describe('Method: retryAfterSeconds / admissionTokens', () => {
  it('rounds the wait up to whole seconds, at least one', () => {
    expect(retryAfterSeconds(window, now)).toBe(45);
    expect(retryAfterSeconds(window, window.endMs - 1)).toBe(1);
  });

  it('counts input plus the whole output allowance', () => {
    expect(admissionTokens(120, 300)).toBe(420);
  });
});
