/**
 * Budget threshold alerts to the stack's SNS topic (TOLLGATE_ALERT_TOPIC_ARN, read by the handler).
 * The message is readable in an email and carries the event as JSON for subscribers that parse it;
 * message attributes allow SNS filter policies on budget and threshold.
 */
import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import type { BudgetAlertSink, BudgetForecastEvent, BudgetThresholdEvent } from '../core/budgets';

export interface SnsAlertSinkOptions {
  client: SNSClient;
  topicArn: string;
}

export function formatBudgetAlert(e: BudgetThresholdEvent): { subject: string; message: string } {
  const subject = `Tollgate: budget ${e.budget} reached ${e.thresholdPercent}% for ${e.period}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  const spenders = e.topSpenders.length
    ? e.topSpenders.map((s) => `  - ${s.dimension} ${s.id}: $${s.spentUsd.toFixed(2)}`).join('\n')
    : '  (no usage rolled up yet)';
  const message = [
    `Budget ${e.budget} (${e.mode}) has reached ${e.thresholdPercent}% of its limit for ${e.period}.`,
    `Spent: $${e.spentUsd.toFixed(2)} of $${e.limitUsd.toFixed(2)}.`,
    e.mode === 'hard' && e.thresholdPercent >= 100 ? 'Requests that could exceed the limit are now refused (429 insufficient_quota).' : '',
    '',
    'Top spenders this period:',
    spenders,
    '',
    JSON.stringify({ type: 'tollgate.budget_threshold', ...e }),
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
  return { subject, message };
}

export class SnsAlertSink implements BudgetAlertSink {
  constructor(private readonly opts: SnsAlertSinkOptions) {}

  async budgetThresholdCrossed(event: BudgetThresholdEvent): Promise<void> {
    const { subject, message } = formatBudgetAlert(event);
    await this.publish(subject, message, {
      type: { DataType: 'String', StringValue: 'budget_threshold' },
      budget: { DataType: 'String', StringValue: event.budget },
      thresholdPercent: { DataType: 'Number', StringValue: String(event.thresholdPercent) },
    });
  }

  async budgetExhaustionForecast(event: BudgetForecastEvent): Promise<void> {
    const subject = `Tollgate: budget ${event.budget} will be exhausted on ${event.exhaustsAt.slice(0, 10)}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
    const message = [
      `At its burn rate so far, budget ${event.budget} (${event.mode}) will reach its $${event.limitUsd.toFixed(2)} limit on ${event.exhaustsAt} (UTC), before ${event.period} ends.`,
      `Spent so far: $${event.spentUsd.toFixed(2)}; projected for the period: $${event.projectedUsd.toFixed(2)}.`,
      '',
      JSON.stringify({ type: 'tollgate.budget_forecast', ...event }),
    ].join('\n');
    await this.publish(subject, message, {
      type: { DataType: 'String', StringValue: 'budget_forecast' },
      budget: { DataType: 'String', StringValue: event.budget },
    });
  }

  private async publish(subject: string, message: string, attributes: NonNullable<PublishCommandInput['MessageAttributes']>): Promise<void> {
    await this.opts.client.send(new PublishCommand({ TopicArn: this.opts.topicArn, Subject: subject, Message: message, MessageAttributes: attributes }));
  }
}
