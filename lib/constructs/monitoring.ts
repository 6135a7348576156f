/**
 * The stack's dashboard and alarms. Every Tollgate metric reference is built from the metrics catalog
 * (lambda/core/metrics-catalog.ts), the same definition the gateway's EMF emitter uses, so a chart or an
 * alarm cannot watch a name or dimension set nobody publishes. Alarms notify the stack's alert topic.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  DIMENSION_SETS,
  Dim,
  METRICS,
  SERVER_ERROR_CLASSES,
  metricsNamespace,
  type DimensionName,
  type DimensionSet,
  type MetricKey,
} from '../../lambda/core/metrics-catalog';
import type { TollgateConfig } from '../settings';

export interface MonitoringProps {
  readonly settings: TollgateConfig;
  readonly gatewayFunction: lambda.IFunction;
  readonly api: apigateway.RestApi;
  readonly alertTopic: sns.ITopic;
}

/** Rate alarms stay quiet below this many requests in a 5-minute period: 1 error in 3 requests is not an outage. */
export const MIN_REQUESTS_FOR_RATE_ALARMS = 20;
const RATE_PERIOD = Duration.minutes(5);

/**
 * Catalog metrics as CloudWatch metric objects; `Service` (the stack name, as the gateway function
 * publishes it) is always part of the dimensions, so a stack watches only its own series.
 */
export class CatalogMetrics {
  constructor(
    readonly namespace: string,
    readonly service: string,
  ) {}

  metric(key: MetricKey, statistic: string, period: Duration, dims: Partial<Record<DimensionName, string>> = {}, label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: METRICS[key].name,
      dimensionsMap: { [Dim.Service]: this.service, ...dims },
      statistic,
      period,
      label,
    });
  }

  /** One series per value combination of a catalog dimension set (SEARCH matches the exact dimension set). */
  search(key: MetricKey, set: DimensionSet, statistic: string, period: Duration, label?: string): cloudwatch.SearchExpression {
    const schema = [searchName(this.namespace), ...set].join(',');
    return new cloudwatch.SearchExpression({
      expression: `SEARCH('{${schema}} ${Dim.Service}="${this.service}" MetricName="${METRICS[key].name}"', '${statistic}', ${period.toSeconds()})`,
      period,
      label,
    });
  }
}

export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** The hourly-spend anomaly model, when `alerts.spendAnomalyBand` > 0. */
  public readonly anomalyDetector?: cloudwatch.CfnAnomalyDetector;
  public readonly metrics: CatalogMetrics;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { settings } = props;
    const stackName = Stack.of(this).stackName;
    const m = new CatalogMetrics(metricsNamespace(settings.observability), stackName);
    this.metrics = m;
    const notify = new actions.SnsAction(props.alertTopic);
    const addAlarm = (alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
      return alarm;
    };

    // ---- Spend -------------------------------------------------------------------------------
    const hourlySpend = m.metric('costUsd', 'Sum', Duration.hours(1));
    if (settings.alerts.spendPerHourUsd !== undefined) {
      addAlarm(
        new cloudwatch.Alarm(this, 'SpendPerHourAlarm', {
          alarmName: `${stackName}-spend-per-hour`,
          alarmDescription: `Tollgate spend in one hour exceeded $${settings.alerts.spendPerHourUsd} (alerts.spendPerHourUsd). See the ${stackName} dashboard, spend by model/feature/team.`,
          metric: hourlySpend,
          threshold: settings.alerts.spendPerHourUsd,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    if (settings.alerts.spendPerDayUsd !== undefined) {
      addAlarm(
        new cloudwatch.Alarm(this, 'SpendPerDayAlarm', {
          alarmName: `${stackName}-spend-per-day`,
          alarmDescription: `Tollgate spend in one day exceeded $${settings.alerts.spendPerDayUsd} (alerts.spendPerDayUsd).`,
          metric: m.metric('costUsd', 'Sum', Duration.days(1)),
          threshold: settings.alerts.spendPerDayUsd,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    const band = settings.alerts.spendAnomalyBand;
    if (band > 0) {
      // Declared explicitly so the model starts training at deploy time, before the alarm first evaluates.
      this.anomalyDetector = new cloudwatch.CfnAnomalyDetector(this, 'SpendAnomalyDetector', {
        singleMetricAnomalyDetector: {
          namespace: m.namespace,
          metricName: METRICS.costUsd.name,
          dimensions: [{ name: Dim.Service, value: m.service }],
          stat: 'Sum',
        },
      });
      const anomaly = addAlarm(
        new cloudwatch.AnomalyDetectionAlarm(this, 'SpendAnomalyAlarm', {
          alarmName: `${stackName}-spend-anomaly`,
          alarmDescription: `Hourly Tollgate spend is above its anomaly band (${band} standard deviations, alerts.spendAnomalyBand). The model needs about two weeks of data to settle.`,
          metric: hourlySpend,
          stdDevs: band,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      anomaly.node.addDependency(this.anomalyDetector);
    }

    // ---- Rates -------------------------------------------------------------------------------
    const requests = m.metric('requests', 'Sum', RATE_PERIOD);
    const serverErrors = Object.fromEntries(
      SERVER_ERROR_CLASSES.map((c) => [`err_${c}`, m.metric('errors', 'Sum', RATE_PERIOD, { [Dim.ErrorClass]: c })]),
    );
    const errorRate = ratePercent(
      `${Object.keys(serverErrors).map((id) => `FILL(${id}, 0)`).join(' + ')}`,
      'req',
      { req: requests, ...serverErrors },
      'Error rate (%, upstream + timeout + internal)',
    );
    const throttleRate = ratePercent('FILL(limited, 0)', 'req', { req: requests, limited: m.metric('rateLimited', 'Sum', RATE_PERIOD) }, 'Rate-limited (%)');
    const budgetRejectRate = ratePercent('FILL(budget, 0)', 'req', { req: requests, budget: m.metric('budgetRejected', 'Sum', RATE_PERIOD) }, 'Budget-rejected (%)');
    // Fallbacks is 0 or 1 on every routed request, so its sample count is the routed-request count.
    const fallbackRate = ratePercent(
      'fb',
      'served',
      { fb: m.metric('fallbacks', 'Sum', RATE_PERIOD), served: m.metric('fallbacks', 'SampleCount', RATE_PERIOD) },
      'Fallback rate (%)',
    );
    const rateAlarm = (id: string, name: string, metric: cloudwatch.IMetric, threshold: number, what: string) =>
      addAlarm(
        new cloudwatch.Alarm(this, id, {
          alarmName: `${stackName}-${name}`,
          alarmDescription: `${what} above ${threshold}% in 2 of 3 five-minute periods (with at least ${MIN_REQUESTS_FOR_RATE_ALARMS} requests each).`,
          metric,
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    rateAlarm('ErrorRateAlarm', 'error-rate', errorRate, settings.alerts.errorRatePercent, 'Server-side error rate (upstream, timeout, internal)');
    rateAlarm('ThrottleRateAlarm', 'throttle-rate', throttleRate, settings.alerts.throttleRatePercent, 'Share of requests rejected by rate limits');
    rateAlarm('FallbackRateAlarm', 'fallback-rate', fallbackRate, settings.alerts.fallbackRatePercent, 'Share of requests served by a fallback target');

    // Every request served at $0 because no price is known (a provider opted in with meterUnpricedAtZero)
    // is spend nobody sees: one is enough to tell the operator to add the price to config.pricing.
    addAlarm(
      new cloudwatch.Alarm(this, 'UnpricedRequestsAlarm', {
        alarmName: `${stackName}-unpriced-requests`,
        alarmDescription: 'Requests were served by a model with no known price and metered at $0. Add its price to config.pricing.',
        metric: m.metric('unpricedRequests', 'Sum', Duration.hours(1)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    addAlarm(
      new cloudwatch.Alarm(this, 'LambdaErrorsAlarm', {
        alarmName: `${stackName}-lambda-errors`,
        alarmDescription: 'The gateway function failed invocations (crash or timeout) in 2 of the last 3 five-minute periods.',
        metric: props.gatewayFunction.metricErrors({ period: RATE_PERIOD, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // ---- Dashboard ---------------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stackName}-${Stack.of(this).region}`,
      defaultInterval: Duration.days(1),
    });
    const hour = Duration.hours(1);
    const fiveMin = Duration.minutes(5);
    const obs = settings.observability;
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...extra });
    const spendSearch = (set: DimensionSet) => m.search('costUsd', set, 'Sum', hour);

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Tollgate: ${stackName}\nCustom metrics in namespace \`${m.namespace}\` (Service=${m.service}). Spend is list price in USD; totals are rolling windows, not calendar periods. See docs/observability.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      windowTotal('Spend, last 24 hours (USD)', m.metric('costUsd', 'Sum', hour, {}, 'USD'), '-PT24H'),
      windowTotal('Spend, last 30 days (USD)', m.metric('costUsd', 'Sum', hour, {}, 'USD'), '-P30D'),
      windowTotal('Requests, last 24 hours', m.metric('requests', 'Sum', hour, {}, 'requests'), '-PT24H'),
      windowTotal('Tokens, last 24 hours', m.metric('inputTokens', 'Sum', hour, {}, 'input'), '-PT24H', [m.metric('outputTokens', 'Sum', hour, {}, 'output')]),
    );
    this.dashboard.addWidgets(
      graph('Spend by model (USD/hour)', [spendSearch(DIMENSION_SETS.byModel)], { stacked: true }),
      obs.featureDimension
        ? graph('Spend by feature (USD/hour)', [spendSearch(DIMENSION_SETS.byFeature)], { stacked: true })
        : disabledNote('Spend by feature', 'observability.featureDimension'),
      obs.teamDimension
        ? graph('Spend by team (USD/hour)', [spendSearch(DIMENSION_SETS.byTeam)], { stacked: true })
        : disabledNote('Spend by team', 'observability.teamDimension'),
    );
    this.dashboard.addWidgets(
      graph('Tokens (per 5 minutes)', [
        m.metric('inputTokens', 'Sum', fiveMin, {}, 'input'),
        m.metric('outputTokens', 'Sum', fiveMin, {}, 'output'),
        m.metric('cachedTokens', 'Sum', fiveMin, {}, 'cached input'),
      ]),
      graph('Requests by model (per 5 minutes)', [m.search('requests', DIMENSION_SETS.byModel, 'Sum', fiveMin)], { stacked: true }),
      graph('Rejections (per 5 minutes)', [
        m.metric('rateLimited', 'Sum', fiveMin, {}, 'rate limited'),
        m.metric('budgetRejected', 'Sum', fiveMin, {}, 'budget exhausted'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Error, throttle and fallback rates (%)', [errorRate, throttleRate, budgetRejectRate, fallbackRate], {
        leftYAxis: { min: 0, label: '%', showUnits: false },
      }),
      graph('Errors by class (per 5 minutes)', [m.search('errors', DIMENSION_SETS.byErrorClass, 'Sum', fiveMin)], { stacked: true }),
      graph('Upstream attempt failures by provider', [m.search('upstreamAttemptFailures', DIMENSION_SETS.byProvider, 'Sum', fiveMin)], { stacked: true }),
    );
    const percentiles = (key: MetricKey) => ['p50', 'p90', 'p99'].map((p) => m.metric(key, p, fiveMin, {}, p));
    this.dashboard.addWidgets(
      graph('Latency (ms)', percentiles('latency'), { width: 12 }),
      graph('Time to first token, streaming (ms)', percentiles('timeToFirstToken'), { width: 12 }),
    );
    this.dashboard.addWidgets(
      graph('API Gateway requests and errors', [
        props.api.metricCount({ period: fiveMin, statistic: 'Sum', label: 'requests' }),
        props.api.metricClientError({ period: fiveMin, statistic: 'Sum', label: '4xx' }),
        props.api.metricServerError({ period: fiveMin, statistic: 'Sum', label: '5xx' }),
      ]),
      graph('Gateway function errors and throttles', [
        props.gatewayFunction.metricInvocations({ period: fiveMin, statistic: 'Sum', label: 'invocations' }),
        props.gatewayFunction.metricErrors({ period: fiveMin, statistic: 'Sum', label: 'errors' }),
        props.gatewayFunction.metricThrottles({ period: fiveMin, statistic: 'Sum', label: 'throttles' }),
      ]),
      graph('Gateway function duration (ms)', ['p50', 'p99', 'Maximum'].map((s) => props.gatewayFunction.metricDuration({ period: fiveMin, statistic: s, label: s }))),
    );
    this.dashboard.addWidgets(budgetWidget(m, obs.watchedBudgets, settings.alerts.budgetThresholdsPercent));
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
  }
}

/** Search schemas take names bare unless they hold anything but letters and digits; then they are double-quoted. */
function searchName(name: string): string {
  return /^[A-Za-z0-9]+$/.test(name) ? name : `"${name.replace(/"/g, '\\"')}"`;
}

/** `IF(denominator >= N, 100 * numerator / denominator, 0)`: a percentage that stays 0 on thin traffic. */
function ratePercent(numerator: string, denominator: string, usingMetrics: Record<string, cloudwatch.IMetric>, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `IF(${denominator} >= ${MIN_REQUESTS_FOR_RATE_ALARMS}, 100 * (${numerator}) / ${denominator}, 0)`,
    usingMetrics,
    period: RATE_PERIOD,
    label,
  });
}

/** A total over a rolling window, independent of the dashboard's time range. */
function windowTotal(title: string, metric: cloudwatch.IMetric, start: string, more: cloudwatch.IMetric[] = []): cloudwatch.SingleValueWidget {
  return new cloudwatch.SingleValueWidget({ title, metrics: [metric, ...more], setPeriodToTimeRange: true, start, width: 6, height: 4, fullPrecision: false });
}

function disabledNote(title: string, setting: string): cloudwatch.TextWidget {
  return new cloudwatch.TextWidget({ markdown: `### ${title}\nOff: set \`${setting}: true\` to publish this dimension.`, width: 8, height: 6 });
}

/** Watched budgets' utilisation as the gateway reports it (BudgetUtilization, Budget dimension), with the notification thresholds. */
function budgetWidget(m: CatalogMetrics, watched: readonly string[], thresholds: readonly number[]): cloudwatch.IWidget {
  if (watched.length === 0) {
    return new cloudwatch.TextWidget({
      markdown: '### Budget utilisation\nNo budgets watched: list them in `observability.watchedBudgets` (e.g. `team:search:month`).',
      width: 24,
      height: 3,
    });
  }
  return new cloudwatch.GraphWidget({
    title: 'Budget utilisation (%)',
    left: watched.map((b) => m.metric('budgetUtilization', 'Maximum', Duration.hours(1), { [Dim.Budget]: b }, b)),
    leftAnnotations: thresholds.map((value) => ({ value, label: `${value}%` })),
    leftYAxis: { min: 0, label: '%', showUnits: false },
    width: 24,
    height: 6,
  });
}
