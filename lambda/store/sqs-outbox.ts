/**
 * The settlement outbox in AWS: an SQS queue (with a dead-letter queue) drained by the outbox consumer
 * Lambda (handlers/settlement-outbox.ts). A settlement the table could not take before its deadline is
 * sent here; the consumer replays it, and a replay counts once however often SQS delivers it.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SettlementMessage, SettlementOutbox } from './settlement';

export class SqsOutbox implements SettlementOutbox {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async put(message: SettlementMessage): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}
