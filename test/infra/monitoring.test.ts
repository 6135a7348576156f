/**
 * The Monitoring construct on a minimal stack of its own (a dummy function, a one-method REST API, a
 * topic), so these assertions do not depend on the gateway stack's other constructs.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { parseConfig } from '../../lambda/core/config';
import { DIMENSION_SETS, METRICS } from '../../lambda/core/metrics-catalog';
import { MIN_REQUESTS_FOR_RATE_ALARMS, Monitoring } from '../../lib/constructs/monitoring';

type Json = Record<string, unknown>;
type MetricDataQuery = { Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: unknown }> }; Stat: string; Period: number } };
type AlarmProps = {
  AlarmName: string; Threshold?: number; ComparisonOperator: string; EvaluationPeriods: number; DatapointsToAlarm?: number;
  TreatMissingData: string; AlarmActions: unknown[]; Metrics?: MetricDataQuery[]; MetricName?: string; Namespace?: string;
  Statistic?: string; Period?: number; Dimensions?: Array<{ Name: string; Value: unknown }>; ThresholdMetricId?: string;
};

interface Made {
  stack: Stack;
  template: Template;
  monitoring: Monitoring;
  topicId: string;
}

function makeStack(observability: Json = {}, alerts: Json = {}): Made {
  const settings = parseConfig({
    providers: { openai: { kind: 'openai-compatible', baseUrl: 'https://api.openai.com/v1' } },
    models: { chat: { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
    observability,
    alerts,
  });
  const app = new App();
  const stack = new Stack(app, 'MonStack');
  const fn = new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const api = new apigateway.RestApi(stack, 'Api');
  api.root.addMethod('GET', new apigateway.LambdaIntegration(fn));
  const topic = new sns.Topic(stack, 'Alerts');
  const monitoring = new Monitoring(stack, 'Monitoring', { settings, gatewayFunction: fn, api, alertTopic: topic });
  return { stack, template: Template.fromStack(stack), monitoring, topicId: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
}

function alarms(template: Template): Record<string, AlarmProps> {
  const out: Record<string, AlarmProps> = {};
  for (const r of Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: AlarmProps }>) {
    out[r.Properties.AlarmName.replace(/^MonStack-/, '')] = r.Properties;
  }
  return out;
}

/** The dashboard body with its Fn::Join resolved against placeholder tokens, parsed. */
function dashboardBody(made: Made): { widgets: Array<{ type: string; properties: Json }> } {
  const resource = Object.values(made.template.findResources('AWS::CloudWatch::Dashboard'))[0] as { Properties: { DashboardBody: unknown } };
  const body = resource.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text) as { widgets: Array<{ type: string; properties: Json }> };
}

function metricsOf(alarm: AlarmProps): Record<string, MetricDataQuery> {
  return Object.fromEntries((alarm.Metrics ?? []).map((q) => [q.Id, q]));
}

/** The stack's own series: `Service` is the stack name, as the gateway function publishes it. */
const SERVICE_DIM = { Name: 'Service', Value: 'MonStack' };

describe('Monitoring', () => {
  describe('with every alert configured', () => {
    let made: Made;
    let all: Record<string, AlarmProps>;

    beforeAll(() => {
      made = makeStack(
        { namespace: 'TollgateProd', watchedBudgets: ['team:search:month', 'global::day'] },
        { spendPerHourUsd: 25, spendPerDayUsd: 200, spendAnomalyBand: 3, errorRatePercent: 4, throttleRatePercent: 15, fallbackRatePercent: 30 },
      );
      all = alarms(made.template);
    });

    it('creates the eight alarms, each notifying the alert topic and treating missing data as not breaching', () => {
      expect(Object.keys(all).sort()).toEqual(['error-rate', 'fallback-rate', 'lambda-errors', 'spend-anomaly', 'spend-per-day', 'spend-per-hour', 'throttle-rate', 'unpriced-requests']);
      expect(made.monitoring.alarms).toHaveLength(8);
      for (const alarm of Object.values(all)) {
        expect(alarm.AlarmActions).toEqual([{ Ref: made.topicId }]);
        expect(alarm.TreatMissingData).toBe('notBreaching');
      }
    });

    it('alarms on the first request served unpriced (metered at $0) in an hour', () => {
      const alarm = all['unpriced-requests'];
      expect(alarm).toMatchObject({ MetricName: 'UnpricedRequests', Namespace: 'TollgateProd', Statistic: 'Sum', Period: 3600, Threshold: 1, EvaluationPeriods: 1 });
    });

    it('alarms on hourly and daily spend of the catalog metric over the configured USD thresholds', () => {
      expect(all['spend-per-hour']).toMatchObject({
        Namespace: 'TollgateProd', MetricName: METRICS.costUsd.name, Dimensions: [SERVICE_DIM], Statistic: 'Sum', Period: 3600,
        Threshold: 25, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1,
      });
      expect(all['spend-per-day']).toMatchObject({ MetricName: 'CostUSD', Statistic: 'Sum', Period: 86400, Threshold: 200, ComparisonOperator: 'GreaterThanThreshold' });
    });

    it('trains an anomaly detector on hourly spend and alarms above its band', () => {
      made.template.hasResourceProperties('AWS::CloudWatch::AnomalyDetector', {
        SingleMetricAnomalyDetector: { Namespace: 'TollgateProd', MetricName: 'CostUSD', Dimensions: [SERVICE_DIM], Stat: 'Sum' },
      });
      const anomaly = all['spend-anomaly'];
      expect(anomaly.ComparisonOperator).toBe('GreaterThanUpperThreshold');
      const queries = Object.values(metricsOf(anomaly));
      const band = queries.find((q) => q.Expression?.startsWith('ANOMALY_DETECTION_BAND'))!;
      expect(band.Expression).toMatch(/^ANOMALY_DETECTION_BAND\(\w+, 3\)$/);
      expect(anomaly.ThresholdMetricId).toBe(band.Id);
      expect(queries.find((q) => q.MetricStat)!.MetricStat).toMatchObject({ Metric: { Namespace: 'TollgateProd', MetricName: 'CostUSD' }, Stat: 'Sum', Period: 3600 });
      const detector = Object.keys(made.template.findResources('AWS::CloudWatch::AnomalyDetector'))[0];
      made.template.hasResource('AWS::CloudWatch::Alarm', { Properties: { AlarmName: 'MonStack-spend-anomaly' }, DependsOn: Match.arrayWith([detector]) });
    });

    it('alarms on the server-side error rate as metric math over catalog metrics, quiet on thin traffic', () => {
      const alarm = all['error-rate'];
      expect(alarm).toMatchObject({ Threshold: 4, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 });
      const q = metricsOf(alarm);
      const root = Object.values(q).find((x) => x.ReturnData !== false && x.Expression)!;
      expect(root.Expression).toBe(`IF(req >= ${MIN_REQUESTS_FOR_RATE_ALARMS}, 100 * (FILL(err_upstream, 0) + FILL(err_timeout, 0) + FILL(err_internal, 0)) / req, 0)`);
      expect(q.req.MetricStat).toMatchObject({ Metric: { Namespace: 'TollgateProd', MetricName: 'Requests', Dimensions: [SERVICE_DIM] }, Stat: 'Sum', Period: 300 });
      expect(q.err_timeout.MetricStat!.Metric).toEqual({
        Namespace: 'TollgateProd', MetricName: 'Errors', Dimensions: [{ Name: 'ErrorClass', Value: 'timeout' }, SERVICE_DIM],
      });
    });

    it('alarms on the rate-limited share and the fallback share with their thresholds', () => {
      const throttle = metricsOf(all['throttle-rate']);
      expect(all['throttle-rate'].Threshold).toBe(15);
      expect(throttle.limited.MetricStat!.Metric.MetricName).toBe('RateLimited');
      const fallback = metricsOf(all['fallback-rate']);
      expect(all['fallback-rate'].Threshold).toBe(30);
      expect(fallback.fb.MetricStat).toMatchObject({ Metric: { MetricName: 'Fallbacks' }, Stat: 'Sum' });
      expect(fallback.served.MetricStat).toMatchObject({ Metric: { MetricName: 'Fallbacks' }, Stat: 'SampleCount' });
    });

    it('alarms on gateway function errors', () => {
      expect(all['lambda-errors']).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    });

    it('builds the dashboard from the catalog: namespace, metric names and dimension sets', () => {
      const body = dashboardBody(made);
      const text = JSON.stringify(body);
      for (const key of ['costUsd', 'requests', 'inputTokens', 'outputTokens', 'cachedTokens', 'latency', 'timeToFirstToken', 'rateLimited', 'budgetRejected', 'fallbacks', 'budgetUtilization'] as const) {
        expect(text).toContain(`"${METRICS[key].name}"`);
      }
      const searches = (text.match(/SEARCH\('\{[^}]+\} Service=\\"MonStack\\" MetricName=\\"\w+\\"', '\w+', \d+\)/g) ?? []).map((s) => s.replace(/\\"/g, '"'));
      expect(searches).toEqual(
        expect.arrayContaining([
          `SEARCH('{TollgateProd,${DIMENSION_SETS.byModel.join(',')}} Service="MonStack" MetricName="CostUSD"', 'Sum', 3600)`,
          `SEARCH('{TollgateProd,${DIMENSION_SETS.byFeature.join(',')}} Service="MonStack" MetricName="CostUSD"', 'Sum', 3600)`,
          `SEARCH('{TollgateProd,${DIMENSION_SETS.byTeam.join(',')}} Service="MonStack" MetricName="CostUSD"', 'Sum', 3600)`,
          `SEARCH('{TollgateProd,${DIMENSION_SETS.byErrorClass.join(',')}} Service="MonStack" MetricName="Errors"', 'Sum', 300)`,
          `SEARCH('{TollgateProd,${DIMENSION_SETS.byProvider.join(',')}} Service="MonStack" MetricName="UpstreamAttemptFailures"', 'Sum', 300)`,
        ]),
      );
      const titles = body.widgets.map((w) => w.properties.title).filter(Boolean);
      expect(titles).toEqual(
        expect.arrayContaining(['Spend, last 24 hours (USD)', 'Spend, last 30 days (USD)', 'Latency (ms)', 'Time to first token, streaming (ms)', 'API Gateway requests and errors', 'Budget utilisation (%)', 'Alarms']),
      );
      const spend24h = body.widgets.find((w) => w.properties.title === 'Spend, last 24 hours (USD)')!.properties;
      expect(spend24h).toMatchObject({ view: 'singleValue', setPeriodToTimeRange: true, start: '-PT24H' });
      expect(JSON.stringify(spend24h.metrics)).toContain('"TollgateProd","CostUSD","Service","MonStack"');
      const latency = body.widgets.find((w) => w.properties.title === 'Latency (ms)')!.properties;
      expect((latency.metrics as unknown[][]).map((row) => (row.at(-1) as { stat: string }).stat)).toEqual(['p50', 'p90', 'p99']);
    });

    it('charts watched budgets by their Budget dimension with the notification thresholds', () => {
      const budget = dashboardBody(made).widgets.find((w) => w.properties.title === 'Budget utilisation (%)')!.properties;
      const text = JSON.stringify(budget.metrics);
      expect(text).toContain('"BudgetUtilization","Budget","team:search:month","Service","MonStack"');
      expect(text).toContain('"Budget","global::day"');
      expect(budget.annotations).toEqual({ horizontal: [50, 80, 100].map((value) => ({ value, label: `${value}%`, yAxis: 'left' })) });
    });

    it('double-quotes a namespace with special characters in search schemas', () => {
      const text = JSON.stringify(dashboardBody(makeStack({ namespace: 'Tollgate/Prod' })));
      expect(text).toContain(`SEARCH('{\\"Tollgate/Prod\\",Service,Model,Provider} Service=\\"MonStack\\" MetricName=\\"CostUSD\\"', 'Sum', 3600)`);
    });

    it('names the dashboard after the stack and region', () => {
      made.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: { 'Fn::Join': ['', ['MonStack-', { Ref: 'AWS::Region' }]] } });
    });
  });

  describe('with defaults', () => {
    let made: Made;
    beforeAll(() => {
      made = makeStack();
    });

    it('creates no spend threshold alarms when no USD thresholds are set, but keeps the anomaly alarm (default band 2)', () => {
      const names = Object.keys(alarms(made.template)).sort();
      expect(names).toEqual(['error-rate', 'fallback-rate', 'lambda-errors', 'spend-anomaly', 'throttle-rate', 'unpriced-requests']);
      expect(alarms(made.template)['error-rate'].Threshold).toBe(5);
      expect(JSON.stringify(alarms(made.template)['spend-anomaly'].Metrics)).toContain('ANOMALY_DETECTION_BAND(');
    });

    it('uses the default Tollgate namespace', () => {
      expect(alarms(made.template)['error-rate'].Metrics!.find((q) => q.Id === 'req')!.MetricStat!.Metric.Namespace).toBe('Tollgate');
      expect(JSON.stringify(dashboardBody(made))).toContain('"Tollgate","CostUSD"');
    });
  });

  describe('with the anomaly band at 0 and attribution dimensions off', () => {
    let made: Made;
    beforeAll(() => {
      made = makeStack({ featureDimension: false, teamDimension: false }, { spendAnomalyBand: 0 });
    });

    it('has no anomaly detector and no anomaly alarm', () => {
      made.template.resourceCountIs('AWS::CloudWatch::AnomalyDetector', 0);
      expect(Object.keys(alarms(made.template))).not.toContain('spend-anomaly');
      expect(made.monitoring.anomalyDetector).toBeUndefined();
    });

    it('shows notes instead of feature and team spend charts, and a hint when no budget is watched', () => {
      const text = JSON.stringify(dashboardBody(made));
      expect(text).not.toContain('Feature}');
      expect(text).not.toContain('Team}');
      expect(text).toContain('observability.featureDimension');
      expect(text).toContain('observability.watchedBudgets');
    });
  });
});
