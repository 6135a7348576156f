/**
 * Per-minute RPM/TPM counters shared by every container: one ledger item per (key or team, UTC minute),
 * incremented with a conditional ADD so the limit holds exactly under any concurrency. The condition is
 * built from named sub-conditions; a rejection reads the counter from the failed write itself
 * (ReturnValuesOnConditionCheckFailure), not from a second request.
 *
 * Each acquire also SETs `lastAdmission` to the admission's unique id. That makes an SDK retry of a write
 * that already landed harmless (the retry fails `lastAdmission <> :id` and is recognised as admitted), and
 * lets a refused admission whose acquire failed ambiguously (timeout, lost response) give its slot back
 * exactly when the slot is provably its own: `giveBack` is conditional on `lastAdmission = :id`. If another
 * request took a slot in between, the condition fails and the slot is kept (under-admitting by one for
 * the rest of the minute, never over-admitting).
 */
import { GetCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import { minuteWindow, type RateLimits, type RateLimitScope, type RateState } from '../core/limits';
import { AmbiguousWriteError, conditionFailedItem, isConditionalCheckFailed, num, type Item } from './dynamo';
import { rateWindowKey, type LedgerKey } from './item-keys';

/** Window items outlive their minute by an hour (TTL), long enough for late TPM corrections. */
const WINDOW_TTL_SECONDS = 3_600;

/** What an admitted request added to a window, so it can be undone or corrected. */
export interface RateCharge {
  scope: RateLimitScope;
  id: string;
  key: LedgerKey;
  tokens: number;
  /** The window item's TTL (epoch s), restored if a late correction finds the item already expired. */
  ttl: number;
  /** The admission's unique id, written as `lastAdmission` by the acquire. */
  admissionId: string;
}

export type AcquireResult =
  | { admitted: true; state: RateState; charge: RateCharge }
  | { admitted: false; state: RateState; exceeded: 'requests' | 'tokens' };

export class DynamoRateLimiter {
  constructor(
    private readonly doc: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Take a slot. Throws `AmbiguousWriteError<RateCharge>` when the write failed without a verdict (it may
   * have landed; see `giveBack`). `admissionId` must be unique per admission.
   */
  async acquire(scope: RateLimitScope, id: string, limits: RateLimits, tokens: number, nowMs: number, admissionId: string): Promise<AcquireResult> {
    const window = minuteWindow(nowMs);
    const key = rateWindowKey(scope, id, window);
    const state = (requests: number, t: number): RateState => ({ scope, limits, requests, tokens: t, window });
    // A request larger than the whole per-minute allowance can never be admitted: no write.
    if (limits.tpm !== undefined && tokens > limits.tpm) return { admitted: false, state: state(0, 0), exceeded: 'tokens' };

    const ttl = Math.floor(window.endMs / 1_000) + WINDOW_TTL_SECONDS;
    const charge: RateCharge = { scope, id, key, tokens, ttl, admissionId };
    const values: Item = { ':one': 1, ':tokens': tokens, ':ttl': ttl, ':id': admissionId };
    const conditions: string[] = ['(attribute_not_exists(lastAdmission) OR lastAdmission <> :id)'];
    if (limits.rpm !== undefined) {
      conditions.push('(attribute_not_exists(requests) OR requests < :rpm)');
      values[':rpm'] = limits.rpm;
    }
    if (limits.tpm !== undefined) {
      conditions.push('(attribute_not_exists(tokens) OR tokens <= :tokenHeadroom)');
      values[':tokenHeadroom'] = limits.tpm - tokens;
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #ttl = if_not_exists(#ttl, :ttl), lastAdmission = :id ADD requests :one, tokens :tokens',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return {
        admitted: true,
        state: state(num(out.Attributes?.requests), num(out.Attributes?.tokens)),
        charge,
      };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw new AmbiguousWriteError(err, charge);
      const old = conditionFailedItem(err) ?? (await this.read(key));
      const requests = num(old?.requests);
      // An SDK retry of this very write, whose first attempt landed: admitted.
      if (old?.lastAdmission === admissionId) return { admitted: true, state: state(requests, num(old.tokens)), charge };
      const exceeded = limits.rpm !== undefined && requests >= limits.rpm ? 'requests' : 'tokens';
      return { admitted: false, state: state(requests, num(old?.tokens)), exceeded };
    }
  }

  /** Undo an admission that did not go ahead (another limit or a budget rejected the request). */
  async release(charge: RateCharge): Promise<void> {
    await this.add(charge, -1, -charge.tokens);
  }

  /**
   * Undo an acquire that failed ambiguously, if it landed and no later acquire has touched the window
   * since (`lastAdmission` is still this admission's id). Idempotent: the undo removes `lastAdmission`.
   * True when a slot was given back.
   */
  async giveBack(charge: RateCharge): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: charge.key,
          UpdateExpression: 'REMOVE lastAdmission ADD requests :r, tokens :t',
          ConditionExpression: 'lastAdmission = :id',
          ExpressionAttributeValues: { ':r': -1, ':t': -charge.tokens, ':id': charge.admissionId },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false; // never landed, already given back, or superseded
      throw err;
    }
  }

  /** Replace the admission estimate with the tokens actually used, in the window the request was admitted in. */
  async correctTokens(charge: RateCharge, actualTokens: number): Promise<void> {
    const delta = actualTokens - charge.tokens;
    if (delta !== 0) await this.add(charge, 0, delta);
  }

  private async add(charge: RateCharge, requests: number, tokens: number): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: charge.key,
        UpdateExpression: 'SET #ttl = if_not_exists(#ttl, :ttl) ADD requests :r, tokens :t',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':r': requests, ':t': tokens, ':ttl': charge.ttl },
      }),
    );
  }

  private async read(key: LedgerKey): Promise<Item | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    return out.Item;
  }
}
