import { classifyOutcome, classifyRejection } from '../../../lambda/app/telemetry';
import { redactSecrets } from '../../../lambda/core/redact';
import { GatewayError, PayloadTooLargeError, PermissionDeniedError } from '../../../lambda/core/errors';
import { DIMENSION_SETS, Dim, METRICS, groupList, dimensionValue, metricGroups, monthlyMetricCount } from '../../../lambda/core/metrics-catalog';

describe('Metrics catalog', () => {
  describe('Method: metricGroups', () => {
    it('keeps operational metrics off the attribution sets and the aggregate set off the attribution group', () => {
      const groups = metricGroups({ featureDimension: true, teamDimension: true });
      expect(groups.attribution!.dimensionSets).toEqual([DIMENSION_SETS.byFeature, DIMENSION_SETS.byTeam]);
      expect(groups.attribution!.metrics).not.toContain('latency');
      expect(groups.attribution!.metrics).not.toContain('errors');
      expect(metricGroups({ featureDimension: false, teamDimension: false }).attribution).toBeUndefined();
    });

    it('names only catalog metrics, each with a CloudWatch unit', () => {
      const groups = metricGroups({ featureDimension: true, teamDimension: true });
      for (const group of groupList(groups)) for (const key of group.metrics) expect(METRICS[key]).toBeDefined();
      expect(new Set(Object.values(METRICS).map((m) => m.name)).size).toBe(Object.keys(METRICS).length);
    });

    it('stays within the EMF limits and keeps metric and dimension names apart from each other and from log fields', () => {
      const groups = metricGroups({ featureDimension: true, teamDimension: true });
      for (const group of groupList(groups)) {
        expect(group.metrics.length).toBeLessThanOrEqual(100);
        for (const set of group.dimensionSets) expect(set.length).toBeLessThanOrEqual(30);
      }
      const metricNames = Object.values(METRICS).map((m) => m.name);
      const dimensionNames = Object.values(Dim);
      expect(metricNames.filter((n) => (dimensionNames as string[]).includes(n))).toEqual([]);
      // Log fields are camelCase or snake_case (telemetry.ts), EMF member names PascalCase: they cannot
      // meet on the request's one line (request-document.ts writes two lines if they ever do).
      for (const name of [...metricNames, ...dimensionNames]) expect(name).toMatch(/^[A-Z][A-Za-z]*$/);
    });
  });

  describe('Method: monthlyMetricCount', () => {
    const cardinality = { modelProviderPairs: 6, providers: 3, features: 11, teams: 6, errorClasses: 5, watchedBudgets: 4 };

    it('matches the worked example in docs/observability.md', () => {
      // 10 x (1 + 6) + 4 x (11 + 6) + 2 + 5 + (1 + 3) + 4
      expect(monthlyMetricCount({ featureDimension: true, teamDimension: true }, cardinality)).toBe(153);
    });

    it('drops the attribution series when the dimensions are off', () => {
      expect(monthlyMetricCount({ featureDimension: false, teamDimension: false }, cardinality)).toBe(153 - 4 * 17);
    });
  });

  describe('Method: dimensionValue', () => {
    it('trims, strips control characters, caps the length and falls back when empty', () => {
      expect(dimensionValue('  search\n')).toBe('search');
      expect(dimensionValue(undefined)).toBe('unattributed');
      expect(dimensionValue('', 'none')).toBe('none');
      expect(dimensionValue('x'.repeat(500))).toHaveLength(128);
    });
  });
});

describe('Error classification', () => {
  it.each([
    [{ status: 'success', httpStatus: 200 }, undefined],
    [{ status: 'client_abort', httpStatus: 499 }, undefined],
    [{ status: 'upstream_error', httpStatus: 502 }, 'upstream'],
    [{ status: 'upstream_error', httpStatus: 429 }, 'upstream'],
    [{ status: 'upstream_error', httpStatus: 504, errorCode: 'upstream_timeout' }, 'timeout'],
    [{ status: 'upstream_error', httpStatus: 400 }, 'client_error'],
    [{ status: 'upstream_error', httpStatus: 500, errorCode: 'provider_not_configured' }, 'internal'],
    [{ status: 'stream_error', httpStatus: 502 }, 'upstream'],
  ] as const)('classifies outcome %o as %s', (outcome, expected) => {
    expect(classifyOutcome(outcome)).toBe(expected);
  });

  it.each([
    [new GatewayError(429, 'rate_limit_error', 'x', { code: 'rate_limit_exceeded' }), 'rate_limited'],
    [new GatewayError(429, 'insufficient_quota', 'x', { code: 'insufficient_quota' }), 'budget'],
    [new PermissionDeniedError('no'), 'auth'],
    [new PayloadTooLargeError(10), 'client_error'],
    [new GatewayError(500, 'server_error', 'x'), 'internal'],
  ])('classifies rejection %#', (error, expected) => {
    expect(classifyRejection(error)).toBe(expected);
  });
});

describe('Method: redactSecrets', () => {
  it.each([
    ['Incorrect API key provided: sk-proj-abc***********wxyz.', 'Incorrect API key provided: [redacted-key].'],
    ['Authorization: Bearer tg_live_0123456789', 'Authorization: [redacted]'],
    ['Bearer abc.def.ghi failed', 'Bearer [redacted] failed'],
    ['{"x-api-key":"anthropic-secret-value"}', '{"x-api-key":"[redacted]"}'],
    // Built at run time so no access-key-shaped literal sits in the repository.
    [`key ${'AKIA'}${'FAKEEXAMPLE00000'} used`, 'key [redacted-aws-key] used'],
    ['model gpt-4o is overloaded', 'model gpt-4o is overloaded'],
  ])('scrubs %s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });
});
