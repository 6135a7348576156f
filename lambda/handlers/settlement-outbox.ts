/**
 * The settlement outbox consumer (SQS event source, partial batch responses): replays each settlement the
 * gateway could not write in time. Replays are idempotent (conditional record put, lease attributes), so
 * SQS's at-least-once delivery counts once. A message that keeps failing goes to the dead-letter queue
 * after the queue's maxReceiveCount, where it waits for a redrive: never dropped.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { isSettlementMessage } from '../store/settlement';
import { storeGatekeeper } from './store-gatekeeper';

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const gate = storeGatekeeper();
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const message: unknown = JSON.parse(record.body);
      if (!isSettlementMessage(message)) throw new Error('not a tollgate.settlement.v1 message');
      await gate.replaySettlement(message);
    } catch (err) {
      console.error(JSON.stringify({ level: 'ERROR', message: 'settlement replay failed', messageId: record.messageId, error: err instanceof Error ? err.message : String(err) }));
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}
