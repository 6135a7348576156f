/** The store classes the commands use, built on the selected target's client and tables. */
import { DynamoBudgetLedger } from '../store/budget-ledger';
import { documentClient } from '../store/dynamo';
import { KeyStore } from '../store/key-store';
import { UsageReader } from '../store/usage-store';
import type { RunContext } from './command';

export async function keyStore(ctx: RunContext): Promise<KeyStore> {
  const s = await ctx.store();
  return new KeyStore({ client: s.client, table: s.tables.keys, now: ctx.now });
}

export async function usageReader(ctx: RunContext): Promise<UsageReader> {
  const s = await ctx.store();
  return new UsageReader({ client: s.client, table: s.tables.ledger });
}

/** Read-only use (totals): the shard count must match the gateway's, or global spend is under-counted. */
export async function budgetLedger(ctx: RunContext): Promise<DynamoBudgetLedger> {
  const s = await ctx.store();
  return new DynamoBudgetLedger(documentClient(s.client), s.tables.ledger, { globalShards: ctx.settings().globalBudgetShards });
}
