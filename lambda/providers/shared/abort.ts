/**
 * An AbortController that also aborts (with the same reason) when `parent` does: what
 * `AbortSignal.any([parent, controller.signal])` gives, without its per-call cost (a composite signal
 * tracked through weak references and a finalization registry). The link lasts as long as `parent`.
 */
export function linkedAbortController(parent: AbortSignal): AbortController {
  const controller = new AbortController();
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', () => controller.abort(parent.reason), { once: true });
  return controller;
}
