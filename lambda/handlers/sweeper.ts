/**
 * Scheduled (every few minutes): settles what died unsettled. A request whose lease expired without a
 * record (a crashed, killed or timed-out invocation) gets its `lost` record and is charged at its reserved
 * worst case; a lost settle write is completed from the record; and the deriver rolls up whatever records
 * are still pending (the backstop for containers frozen before their own pass). Env: TOLLGATE_KEYS_TABLE,
 * TOLLGATE_LEDGER_TABLE; the config is baked into the bundle.
 */
import type { SweepResult } from '../store/lease-sweeper';
import { storeGatekeeper } from './store-gatekeeper';

export async function handler(): Promise<SweepResult> {
  const result = await storeGatekeeper().sweepExpiredReservations(Date.now());
  console.log(JSON.stringify({ level: 'INFO', message: 'swept expired leases', ...result }));
  return result;
}
