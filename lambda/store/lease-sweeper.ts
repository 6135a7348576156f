/**
 * The sweeper: every admitted request has a lease index entry (written at admission); when its lease has
 * expired, the request either settled or died with its process. Per expired entry:
 * - its record exists and is real: any reservation still open is settled at the record's cost (the
 *   settle write was lost), and the record's derivation marker is put again if it is still underived
 *   (`dv`, or its writer's watermark: usage-deriver.ts isDerived());
 * - no record: the request died. Its `lost` record is written, charged at the reserved worst case, and
 *   every reservation still open is charged at that amount (never released for free). If the real record
 *   arrives later (a stream that outlived its lease, an outbox replay), both are corrected to the actual;
 * - the admission was refused (entry flagged `refused`): leftover ambiguous reservations are released.
 *
 * Settlement never deletes entries (TTL does, LEASE_INDEX_TTL_SECONDS after expiry), so the sweeper
 * reads only the entries that expired since its last run: per shard, a cursor item marks how far it got.
 */
import { GetCommand, QueryCommand, UpdateCommand, type DocumentClient } from './lean-commands';
import { lostUsageRecord, type AdmittedRequest } from '../core/metering';
import { LEASE_INDEX_SHARDS, type DynamoBudgetLedger } from './budget-ledger';
import { itemId, num, unlessConditionFailed, type Item } from './dynamo';
import { leaseAttr, leaseIndexPk, leaseIndexUpperBound, leaseSweepCursorKey, requestRecordKey, type LedgerKey } from './item-keys';
import { isDerived, readWatermarks, watermarkProcesses } from './usage-deriver';
import type { UsageRecorder } from './usage-store';

export interface SweepResult {
  /** Expired lease index entries looked at. */
  leases: number;
  /** Reservations charged at their worst case (request lost). */
  charged: number;
  /** Reservations settled at their record's cost. */
  settled: number;
  /** Reservations of refused admissions given back. */
  released: number;
  /** `lost` records written. */
  lost: number;
  /** Admission leases of dead processes reclaimed, charged in full (admission-leases.ts; filled in by the gatekeeper). */
  reclaimedLeases: number;
}

interface Entry {
  leaseId: string;
  counters: Array<{ pk: string; sk: string; costMicros: number }>;
  request?: AdmittedRequest;
  refused: boolean;
  recordTtlDays?: number;
}

export class LeaseSweeper {
  constructor(
    private readonly doc: DocumentClient,
    private readonly table: string,
    private readonly ledger: DynamoBudgetLedger,
    private readonly recorder: UsageRecorder,
    private readonly defaultRecordTtlDays = 90,
  ) {}

  /** Handle every entry that expired at or before `nowMs` (and after the shard's cursor). */
  async sweep(nowMs: number, sweptAt = nowMs): Promise<SweepResult> {
    // Watermarks read by this run (they only rise: a stale one can only cause a harmless extra marker).
    const watermarks = new Map<string, number>();
    const total: SweepResult = { leases: 0, charged: 0, settled: 0, released: 0, lost: 0, reclaimedLeases: 0 };
    for (let shard = 0; shard < LEASE_INDEX_SHARDS; shard++) {
      const cursorKey = leaseSweepCursorKey(shard);
      const cursor = num((await this.doc.send(new GetCommand({ TableName: this.table, Key: cursorKey, ConsistentRead: true }))).Item?.sweptUpTo);
      if (cursor >= nowMs) continue;
      let start: Record<string, unknown> | undefined;
      let seen = 0;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :upper',
            // Entries expiring at `cursor` were handled by the last run; `#~` sorts after all of them.
            ExpressionAttributeValues: { ':pk': leaseIndexPk(shard), ':from': leaseIndexUpperBound(cursor), ':upper': leaseIndexUpperBound(nowMs) },
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }),
        );
        const items = page.Items ?? [];
        add(total, await this.sweepPage(items.map(entry), sweptAt, watermarks));
        seen += items.length;
        start = page.LastEvaluatedKey;
      } while (start);
      total.leases += seen;
      // Move the cursor only after the whole window was handled; a failed run redoes it (harmlessly).
      if (seen > 0) {
        // A failed condition: a concurrent run got further. Fine.
        await unlessConditionFailed(
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: cursorKey,
              UpdateExpression: 'SET sweptUpTo = :now',
              ConditionExpression: 'attribute_not_exists(sweptUpTo) OR sweptUpTo < :now',
              ExpressionAttributeValues: { ':now': nowMs },
            }),
          ),
        );
      }
    }
    return total;
  }

  private async sweepPage(entries: Entry[], sweptAt: number, watermarks: Map<string, number>): Promise<SweepResult> {
    const result: SweepResult = { leases: 0, charged: 0, settled: 0, released: 0, lost: 0, reclaimedLeases: 0 };
    const counterKeys = new Map<string, LedgerKey>();
    for (const e of entries) for (const c of e.counters) counterKeys.set(itemId(c), keyOf(c));
    const recordKeyOf = (r: AdmittedRequest) => requestRecordKey(r.day, r.admittedAt, r.requestId);
    const [counters, records] = await Promise.all([
      this.ledger.readMany([...counterKeys.values()]),
      this.recorder.readMany(entries.flatMap((e) => (e.request && !e.refused ? [recordKeyOf(e.request)] : []))),
    ]);
    await readWatermarks(this.doc, this.table, watermarkProcesses(records.values()), watermarks);
    await Promise.all(
      entries.map(async (e) => {
        const open = e.counters.filter((c) => counters.get(itemId(c))?.[leaseAttr(e.leaseId)] !== undefined);
        if (e.refused) {
          for (const c of open) if (await this.ledger.releaseExpired(keyOf(c), e.leaseId, c.costMicros)) result.released++;
          return;
        }
        let record: Item | undefined = e.request ? records.get(itemId(recordKeyOf(e.request))) : undefined;
        if (e.request && !record) {
          const lost = lostUsageRecord(e.request, sweptAt);
          const outcome = await this.recorder.commit(lost, e.recordTtlDays ?? this.defaultRecordTtlDays);
          if (outcome === 'created') result.lost++;
          // A real record won the race: settle the reservations at its cost below.
          if (outcome === 'duplicate') record = (await this.recorder.readMany([recordKeyOf(e.request)])).get(itemId(recordKeyOf(e.request)));
        } else if (e.request && record && !isDerived(record, watermarks)) {
          await this.recorder.mark(recordKeyOf(e.request), e.request.requestId, num(record.v) || 1);
        }
        const real = record !== undefined && record.status !== 'lost';
        for (const c of open) {
          if (real) {
            if (await this.ledger.settleExpired(keyOf(c), e.leaseId, c.costMicros, num(record?.costMicros))) result.settled++;
          } else if (await this.ledger.chargeExpired(keyOf(c), e.leaseId, c.costMicros)) {
            result.charged++;
          }
        }
      }),
    );
    return result;
  }
}

function entry(item: Item): Entry {
  return {
    leaseId: String(item.leaseId),
    counters: (item.counters as Entry['counters'] | undefined) ?? [],
    request: item.request as AdmittedRequest | undefined,
    refused: item.refused === true,
    recordTtlDays: typeof item.recordTtlDays === 'number' ? item.recordTtlDays : undefined,
  };
}

function keyOf(c: { pk: string; sk: string }): LedgerKey {
  return { pk: c.pk, sk: c.sk };
}

function add(into: SweepResult, r: SweepResult): void {
  into.charged += r.charged;
  into.settled += r.settled;
  into.released += r.released;
  into.lost += r.lost;
}
