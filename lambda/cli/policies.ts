/**
 * Changing one part of a policy item (a team's rate limits, one budget) without losing the rest: the store
 * writes whole policies, so the CLI reads, merges and writes back, and deletes a policy left empty.
 */
import type { BudgetRule } from '../core/budgets';
import { hasLimits, type RateLimits } from '../core/limits';
import type { PolicyScope } from '../store/item-keys';
import type { KeyStore, PolicyInput, PolicyRecord } from '../store/key-store';

export type PolicyBudget = Omit<BudgetRule, 'scope' | 'id'>;

export async function updatePolicy(
  store: KeyStore,
  scope: PolicyScope,
  id: string,
  change: (current: { rateLimits?: RateLimits; budgets: PolicyBudget[] }) => { rateLimits?: RateLimits; budgets: PolicyBudget[] },
): Promise<PolicyRecord | undefined> {
  const current = await store.getPolicy(scope, id);
  const next = change({ rateLimits: current?.rateLimits, budgets: (current?.budgets ?? []).map(policyBudget) });
  if (!hasLimits(next.rateLimits) && next.budgets.length === 0) {
    if (current) await store.deletePolicy(scope, id);
    return undefined;
  }
  const input: PolicyInput = { budgets: next.budgets, ...(hasLimits(next.rateLimits) ? { rateLimits: next.rateLimits } : {}) };
  return store.putPolicy(scope, id, input);
}

/** A policy's stored rule without the scope and id the policy itself supplies. */
export function policyBudget(rule: BudgetRule): PolicyBudget {
  const { scope: _scope, id: _id, ...rest } = rule;
  return rest;
}
