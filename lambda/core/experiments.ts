/**
 * Experiments: a model alias may split its traffic by weight between arms (e.g. 90% on the current
 * targets, 10% on a cheaper candidate), so a recommendation from `tollgate insights` can be tried on the
 * team's own traffic before it is adopted. The arm is chosen by a hash, never by Math.random: per request
 * (its id) or sticky per customer, so one customer always sees the same model. Usage records carry the
 * arm and `insights` compares arms on cost, latency, errors and fallbacks.
 */
import { createHash } from 'node:crypto';
import type { ModelConfig, TargetConfig } from './config';

export interface ArmChoice {
  arm: string;
  targets: ReadonlyArray<TargetConfig>;
}

/** A uniform number in [0, 1) from a string: the first 48 bits of its SHA-256. */
export function unitHash(text: string): number {
  return createHash('sha256').update(text).digest().readUIntBE(0, 6) / 2 ** 48;
}

/**
 * The arm for one request of `alias`, or undefined when the alias runs no experiment. `stickyKey` is the
 * customer when the experiment is sticky and the request names one; otherwise the request id is hashed.
 */
export function chooseArm(alias: string, model: ModelConfig, key: { requestId: string; customer?: string }): ArmChoice | undefined {
  const experiment = model.experiment;
  if (!experiment) return undefined;
  const basis = experiment.sticky === 'customer' && key.customer ? `customer:${key.customer}` : `request:${key.requestId}`;
  const total = experiment.arms.reduce((s, a) => s + a.weight, 0);
  let point = unitHash(`${alias}\n${basis}`) * total;
  for (const arm of experiment.arms) {
    point -= arm.weight;
    if (point < 0) return { arm: arm.name, targets: arm.targets ?? model.targets };
  }
  const last = experiment.arms[experiment.arms.length - 1];
  return { arm: last.name, targets: last.targets ?? model.targets };
}

/** Every target an alias can route to: its own and its experiment arms' (IAM grants, pricing checks). */
export function allTargets(model: Pick<ModelConfig, 'targets' | 'experiment'>): TargetConfig[] {
  return [...model.targets, ...(model.experiment?.arms ?? []).flatMap((a) => a.targets ?? [])];
}
