/**
 * The effective output cap: the ONE number of output tokens a request may generate on a target. The
 * gatekeeper reserves budget and TPM for it, and every adapter forwards it upstream, so the cap that is
 * priced is the cap that is sent (an upstream left uncapped would generate up to its own limit, far past
 * what was reserved).
 *
 * Per choice it is the smallest of: what the client asked for, the alias's `maxOutputTokens`, and the
 * model's real maximum (model-limits.ts; UNKNOWN_MODEL_MAX_OUTPUT when neither the table nor the alias
 * knows it). A client that sends both `max_tokens` and `max_completion_tokens` gets the smaller of the two.
 * `n` choices generate up to n × the cap (each choice is billed its output). Reasoning tokens are output
 * tokens at every provider we speak to, so they are inside the cap.
 */
import type { ModelConfig, TargetConfig } from './config';
import { modelMaxOutputTokens, UNKNOWN_MODEL_MAX_OUTPUT } from './model-limits';
import { requestedMaxTokens, type ChatCompletionRequest } from './openai-schema';

export interface OutputCap {
  /** Forwarded upstream as the output-token limit. */
  perChoice: number;
  choices: number;
  /** perChoice × choices: what is reserved and counted against TPM. */
  total: number;
}

/** The most `target`'s model may be asked to generate per choice: the alias's ceiling within the model's real one. */
export function modelOutputCeiling(model: Pick<ModelConfig, 'maxOutputTokens'>, target: Pick<TargetConfig, 'model'>): number {
  const real = modelMaxOutputTokens(target.model);
  const alias = model.maxOutputTokens;
  if (real === undefined) return alias ?? UNKNOWN_MODEL_MAX_OUTPUT;
  return alias === undefined ? real : Math.min(alias, real);
}

export function outputCap(
  req: Pick<ChatCompletionRequest, 'max_tokens' | 'max_completion_tokens' | 'n'>,
  model: Pick<ModelConfig, 'maxOutputTokens'>,
  target: Pick<TargetConfig, 'model'>,
): OutputCap {
  const ceiling = modelOutputCeiling(model, target);
  const asked = requestedMaxTokens(req);
  const perChoice = asked === undefined ? ceiling : Math.min(asked, ceiling);
  const choices = Math.max(1, req.n ?? 1);
  return { perChoice, choices, total: perChoice * choices };
}

/** The largest total over the targets the router may try: what TPM admission counts. */
export function worstOutputTokens(
  req: Pick<ChatCompletionRequest, 'max_tokens' | 'max_completion_tokens' | 'n'>,
  model: Pick<ModelConfig, 'maxOutputTokens'>,
  targets: ReadonlyArray<Pick<TargetConfig, 'model'>>,
): number {
  return Math.max(0, ...targets.map((t) => outputCap(req, model, t).total));
}
