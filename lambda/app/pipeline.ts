/**
 * The request pipeline every API surface shares:
 *   authenticate → parse/validate → estimate → check targets → admit → route with fallback → relay → usage → settle → telemetry.
 *
 * ## Adding a surface (one folder under app/surfaces/, one line in app/surfaces/index.ts)
 * A surface supplies only its own parts, as a `Surface<Req>` passed to `defineSurface`:
 *   - `name`, `paths` (POST), `kinds`: the provider kinds it can reach (listed per model by GET /v1/models);
 *   - `parse(body, headers)`: the validated request (throw BadRequestError: a 400 in the surface's shape);
 *   - `describe(req)`: the model name, whether it streams, the worst-case `estimate` admission prices
 *     (input tokens, the output cap the client asked for, n) and attribution `hints` (metadata, user);
 *   - `check(req, plan)`: the refusals its provider mapping makes before any network call, by the same code
 *     (its translation, then `plan.adapter.checkChat` / `checkEmbed`); run for every target before admission,
 *     so a request no target can take is a 400 that is never metered (see `routableTargets`);
 *   - `complete(req, call)` / `openStream(req, call)`: the provider mapping for the target in `call`
 *     (`call.provider.kind` says which wire format; `call.adapter` is the configured chat adapter;
 *     `call.apiKey`, `call.signal`, `call.headers` (the client's), `call.maxOutputTokens`).
 *     `complete` returns usage, text and `body(costUsd)`; `openStream` returns an AsyncIterator of
 *     `StreamFrame`s (bytes to send, cumulative usage, text; `final` on a closing frame such as
 *     `[DONE]`), whose FIRST `next()` must reject when the target fails before its first byte, so the
 *     router can still fall back. `mapFrames(items, frame, end)` builds one from upstream items.
 *     `call.cost(usage)` is the request's cost in USD, priced as settlement prices it: put it in the
 *     body's / final event's usage (`usage.cost`).
 *   - `errorBody(error)` and `streamError(error)`: the surface's error shape, before and after the first byte.
 *   - `promptText(req)`: the prompt as text, for keys that opted in to content logging.
 * Everything else (auth, attribution, limits, budgets, fallback, settlement exactly once, telemetry,
 * `x-tollgate-*` headers, `x-tollgate-cost-usd` on non-streamed answers) is done here, once.
 *
 * Non-metered endpoints (e.g. /v1/messages/count_tokens) are `Route`s: a path and a handler.
 *
 * The stream relay (relay.ts) reads `AsyncIterator<StreamFrame>` with SSE keep-alives and a stall timeout
 * (sse-keepalive.ts) for every surface; `openFrames` below is the one place the iterator is created.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ProviderConfig, ProviderKind, TargetConfig } from '../core/config';
import { BadRequestError, GatewayError, UnsupportedParameterError, toGatewayError } from '../core/errors';
import type { Admission, AttributionHints, OutcomeStatus, RequestEstimate, RequestOutcome } from '../core/gatekeeper';
import { chooseArm } from '../core/experiments';
import { modelMode, type ModelMode } from '../core/model-mode';
import { outputCap } from '../core/output-cap';
import type { RequestEvidence } from '../core/request-evidence';
import { ClientAbortedError, resolveModel, runWithFallback, type AttemptInfo, type ResolvedModel } from '../core/routing';
import { estimateTokens } from '../core/token-estimate';
import { reconcileUsage, type TokenUsage } from '../core/usage';
import { linkedAbortController } from '../providers/shared/abort';
import type { ProviderAdapter } from '../providers/types';
import { CUSTOMER_HEADER } from '../store/key-auth';
import type { GatewayDeps, GatewayRequest, RequestContext } from './gateway-app';
import { jsonResponse, parseJsonBody, readBodyText } from './http';
import { FrameRelay, streamResponse, type OpenedStream, type StreamFrame } from './relay';
import { merged } from '../core/plain-object';
import { SSE_HEADERS } from './sse';
import { settledWithin } from './sse-keepalive';

/** A target as a surface's `check` sees it, before admission: no key, no signal, no price. */
export interface TargetPlan {
  target: TargetConfig;
  provider: ProviderConfig;
  adapter: ProviderAdapter;
  /** The client's request headers (e.g. `anthropic-beta` to pass on). */
  headers: Headers;
  /** The effective output cap per choice (core/output-cap.ts): what admission reserved for; send exactly this upstream. */
  maxOutputTokens: number;
}

/** What a surface gets for one attempt on one target. */
export interface TargetCall extends TargetPlan {
  apiKey?: string;
  /** Aborted when the client leaves or the attempt's time budget runs out. */
  signal: AbortSignal;
  /** The cost of `usage` on this target in USD, priced as settlement prices it; undefined when unpriced. */
  cost(usage: TokenUsage): number | undefined;
}

/** A non-streamed answer. */
export interface Completed {
  /** Usage the upstream reported; undefined: none (then estimated). */
  usage?: TokenUsage;
  /** The answer's text (content log, estimated usage). */
  text(): string;
  /** The response body, with the request's cost (USD) when known. */
  body(costUsd: number | undefined): unknown;
}

export interface SurfaceDescription {
  model: string;
  stream: boolean;
  estimate: RequestEstimate;
  hints: AttributionHints;
}

export interface Surface<Req> {
  readonly name: string;
  readonly paths: readonly string[];
  /** Provider kinds it can reach; 'any' for a surface every adapter speaks (chat). */
  readonly kinds: readonly ProviderKind[] | 'any';
  /** The models it serves (core/model-mode.ts); default chat. Another model is a 400 before admission. */
  readonly mode?: ModelMode;
  parse(body: unknown, headers: Headers): Req;
  describe(req: Req): SurfaceDescription;
  promptText(req: Req): string;
  /** Evidence for `tollgate insights` beyond the output cap (e.g. the prompt prefix's hash and size). */
  evidence?(req: Req, outputCapTokens: number): RequestEvidence;
  /**
   * The refusals `complete` / `openStream` would make on this target before any network call, by the same
   * code (the surface's translation, then the adapter's `checkChat` / `checkEmbed`): an
   * UnsupportedParameterError when the target cannot take the request. Run for every target before
   * admission (`routableTargets`).
   */
  check?(req: Req, plan: TargetPlan): void;
  complete(req: Req, call: TargetCall): Promise<Completed>;
  openStream(req: Req, call: TargetCall): AsyncIterator<StreamFrame>;
  /**
   * Bytes a stream opens with as soon as the request is admitted (Responses: `response.created`,
   * `response.in_progress`), before any target answered. The 200 is committed then (a failure no target
   * survives becomes `streamError`), except for failures already known within the same turn of the event
   * loop: those are still a plain JSON error with their status (a field no target can honour is refused
   * before admission, by `check`).
   */
  streamPrelude?(req: Req): Uint8Array;
  errorBody(error: GatewayError): unknown;
  streamError(error: GatewayError, req: Req): Uint8Array;
}

/** Per-request context the gateway app hands a route. */
export interface RouteEnv {
  deps: GatewayDeps;
  ctx: RequestContext;
  requestId: string;
  baseHeaders: Record<string, string>;
  now: () => number;
  /** The model the request named, once known (for the rejection log). */
  seen: { model?: string };
}

/** One registered endpoint: a surface (metered, through the pipeline) or a plain route. */
export interface Route {
  readonly name: string;
  readonly paths: readonly string[];
  /** Provider kinds the route's surface reaches (undefined: not a model surface). */
  readonly kinds?: readonly ProviderKind[] | 'any';
  readonly mode?: ModelMode;
  handle(request: GatewayRequest, env: RouteEnv): Promise<Response>;
  /** The error body in this route's API shape. */
  errorBody(error: GatewayError): unknown;
}

export function defineSurface<Req>(surface: Surface<Req>): Route {
  return {
    name: surface.name,
    paths: surface.paths,
    kinds: surface.kinds,
    mode: surface.mode ?? 'chat',
    errorBody: (e) => surface.errorBody(e),
    handle: (request, env) => runPipeline(surface, request, env),
  };
}

interface Flow<Req> {
  surface: Surface<Req>;
  env: RouteEnv;
  req: Req;
  described: SurfaceDescription;
  model: ResolvedModel;
  admission: Admission;
  headers: Headers;
  startedAt: number;
  baseHeaders: Record<string, string>;
}

async function runPipeline<Req>(surface: Surface<Req>, request: GatewayRequest, env: RouteEnv): Promise<Response> {
  const { deps } = env;
  const startedAt = env.now();
  await deps.gatekeeper.authenticate?.(request.headers, startedAt);
  const req = surface.parse(parseJsonBody(await readBodyText(request, deps.config.server.maxBodyBytes)), request.headers);
  const described = surface.describe(req);
  env.seen.model = described.model;
  const armed = withArm(resolveModel(deps.config, described.model), env.requestId, request.headers, described.hints);
  checkMode(surface.mode ?? 'chat', armed);
  // Before admission: a request no target can take is refused unmetered; targets that cannot take it are left out.
  const model = { ...armed, config: { ...armed.config, targets: routableTargets(surface, req, described, armed, deps, request.headers) } };
  const cap = outputCap({ max_tokens: described.estimate.maxOutputTokens, n: described.estimate.n }, model.config, model.config.targets[0]).perChoice;
  const admission = await deps.gatekeeper.admit({
    evidence: { ...surface.evidence?.(req, cap), outputCapTokens: cap, ...(model.arm ? { arm: model.arm } : {}) },
    requestId: env.requestId,
    headers: request.headers,
    request: described.hints,
    estimate: described.estimate,
    model: model.name,
    stream: described.stream,
    modelConfig: model.config,
    targets: model.config.targets,
    now: startedAt,
  });
  const flow: Flow<Req> = {
    surface,
    env,
    req,
    described,
    model,
    admission,
    headers: request.headers,
    startedAt,
    baseHeaders: merged(env.baseHeaders, admission.headers),
  };
  // The upstream call starts now; the client's first byte waits for the admission's durable bookkeeping.
  const response = await relay(flow, request.signal);
  await admission.ready;
  return response;
}

async function relay<Req>(flow: Flow<Req>, clientSignal: AbortSignal): Promise<Response> {
  const { deps } = flow.env;
  const { surface, req } = flow;
  // Aborts when the client's request is aborted, or when the response body is cancelled (a host that
  // cancels the body without aborting the request must still stop the upstream).
  const gone = linkedAbortController(clientSignal);
  // What failed before the first byte, for the record of a request no target could serve.
  const failed: { attempts: number; target?: TargetConfig } = { attempts: 0 };
  const fallbackOpts = {
    clientSignal: gone.signal,
    retryBaseDelayMs: deps.config.server.retryBaseDelayMs,
    random: deps.random,
    onAttemptFailed: (t: TargetConfig, e: GatewayError) => {
      failed.attempts++;
      failed.target = t;
      deps.observer?.attemptFailed?.(flow.env.requestId, t.provider, e);
    },
  };
  const settle = settler(flow);

  if (!flow.described.stream) {
    try {
      const result = await runWithFallback(flow.model.config.targets, async (info) => surface.complete(req, await targetCall(flow, info)), fallbackOpts);
      const done = result.value;
      const usage = done.usage ?? estimateUsage(flow, done.text());
      settle({
        status: 'success',
        httpStatus: 200,
        target: result.target,
        attempts: result.attempts,
        fallback: result.fallback,
        usage,
        usageEstimated: done.usage === undefined,
        completion: () => done.text(),
      });
      const costUsd = costOf(flow, result.target, usage);
      const headers = merged(flow.baseHeaders, servedHeaders(result.target, result.attempts, result.fallback));
      if (costUsd !== undefined) headers['x-tollgate-cost-usd'] = String(costUsd);
      return jsonResponse(200, done.body(costUsd), headers);
    } catch (err) {
      return errorResponse(flow, failBeforeFirstByte(flow, settle, err, failed));
    }
  }

  const opening = runWithFallback(flow.model.config.targets, async (info): Promise<OpenedStream> => {
    const iterator = openFrames(surface.openStream(req, await targetCall(flow, info)));
    // Resolve only with the first frame in hand: until then a failure can still fall back.
    const first = await iterator.next();
    return { iterator, first, firstAt: flow.env.now() };
  }, fallbackOpts);
  // Wait up to one keep-alive interval for the first frame with nothing committed: a failure in that time
  // is a plain JSON error with its real status. After that the 200 and SSE headers go out with keep-alive
  // comments (API Gateway cuts a silent stream after 5 minutes), fallback goes on behind them, and a
  // failure still to come can only be the surface's error event.
  const keepAlive = { intervalMs: deps.config.server.sseKeepAliveMs, stallTimeoutMs: deps.config.server.streamStallTimeoutMs };
  const prelude = surface.streamPrelude?.(req);
  // The 200 and its relay are built on the next turn of the event loop, once the upstream request has
  // left, while the upstream thinks, and dropped if it fails early: built once the first frame was in hand,
  // they sat between that frame and the client's first byte (~0.25 ms of a request's time to first token,
  // in situ on the bench), and built at once, before the upstream call. The adapters send the status and
  // headers with the first body bytes (the Lambda runtime's semantics, followed locally too), so the target
  // that opens (now or after the commit, before the first keep-alive comment) is still named in them.
  const settling = settledWithin(opening, prelude ? 0 : keepAlive.intervalMs);
  await nextTurn();
  const committed: { response?: Response } = {};
  const frames: FrameRelay = new FrameRelay({
    opening,
    prelude,
    gone,
    keepAlive,
    errorEvent: (e) => surface.streamError(e, req),
    openFailed: (err) => failBeforeFirstByte(flow, settle, err, failed),
    onOpen: (opened) => {
      const headers = committed.response?.headers;
      if (headers) for (const [name, value] of Object.entries(servedHeaders(opened.target, opened.attempts, opened.fallback))) headers.set(name, value);
    },
    end: (opened, r) =>
      settle(
        merged(r, {
          target: opened.target,
          attempts: opened.attempts,
          fallback: opened.fallback,
          ttftMs: opened.value.firstAt - flow.startedAt,
          usage: frames.usage ?? estimateUsage(flow, frames.generated),
          usageEstimated: frames.usage === undefined,
          completion: () => frames.generated,
        }),
      ),
  });
  // The cost cannot follow as a header (headers leave before the answer exists): it is in the final usage event.
  committed.response = streamResponse(frames, { status: 200, headers: merged(SSE_HEADERS, flow.baseHeaders) });
  const early = await settling;
  if (early && !early.ok) return errorResponse(flow, failBeforeFirstByte(flow, settle, early.error, failed));
  if (early) frames.openedEarly(early.value);
  return committed.response;
}

/**
 * An alias running an experiment routes this request to one arm's targets (reserved, priced and recorded as
 * such). Sticky experiments key on the customer the request names (header, metadata, user) when it names
 * one; a key's own customer is not known before admission, so those requests are drawn per request.
 */
function withArm(model: ResolvedModel, requestId: string, headers: Headers, hints: AttributionHints): ResolvedModel & { arm?: string } {
  const customer = headers.get(CUSTOMER_HEADER) ?? hints.metadata?.customer ?? hints.user ?? undefined;
  const choice = chooseArm(model.name, model.config, { requestId, customer });
  return choice ? { ...model, arm: choice.arm, config: { ...model.config, targets: [...choice.targets] } } : model;
}

/**
 * The model's targets that can take this request, by the checks their mapping makes before any network
 * call (`Surface.check`), run before admission. A request no target can take is refused with the first
 * target's 400, as the router would have answered, but with nothing admitted: no record, no rate-limit
 * slot, no reservation. A target that cannot take it is left out of admission's pricing and of the route
 * (skipped without an attempt). Another client error (e.g. malformed tool arguments) is thrown where the
 * router would have stopped on it: when no earlier target can take the request. What the checks cannot
 * judge (a provider without an adapter, an unexpected error) is left to the attempt, as before.
 */
function routableTargets<Req>(surface: Surface<Req>, req: Req, described: SurfaceDescription, model: ResolvedModel, deps: GatewayDeps, headers: Headers): TargetConfig[] {
  const { targets } = model.config;
  if (!surface.check) return [...targets];
  const routable: TargetConfig[] = [];
  let refusal: UnsupportedParameterError | undefined;
  for (const target of targets) {
    const plan = targetPlan(deps, model.config, described, target, headers);
    try {
      if (plan) surface.check(req, plan);
    } catch (err) {
      if (err instanceof UnsupportedParameterError) {
        refusal ??= err;
        continue;
      }
      if (err instanceof BadRequestError && routable.length === 0) throw err;
    }
    routable.push(target);
  }
  if (refusal && routable.length === 0) throw refusal;
  return routable;
}

/** An embeddings model on a chat surface, or a chat model on /v1/embeddings: refused before admission. */
export function checkMode(wanted: ModelMode, model: Pick<ResolvedModel, 'name' | 'config'>): void {
  const mode = modelMode(model.config);
  if (mode === wanted) return;
  const message =
    mode === 'embeddings'
      ? `The model '${model.name}' is an embeddings model: use POST /v1/embeddings.`
      : `The model '${model.name}' is not an embeddings model: POST /v1/embeddings serves embeddings models only.`;
  throw new BadRequestError(message, { param: 'model', code: 'model_not_supported' });
}

/** The one place a stream's frames are opened: wrap here to act on every surface's stream. */
function openFrames(frames: AsyncIterator<StreamFrame>): AsyncIterator<StreamFrame> {
  return frames;
}

interface SettleInput {
  status: OutcomeStatus;
  httpStatus: number;
  target?: TargetConfig;
  attempts: number;
  fallback: boolean;
  usage?: TokenUsage;
  usageEstimated: boolean;
  ttftMs?: number;
  errorCode?: string;
  /** The answer's text, read only when the key opted in to content logging. */
  completion?: () => string;
}

/** Builds the outcome and hands settlement to waitUntil; guarantees one settlement per request. */
function settler<Req>(flow: Flow<Req>): (input: SettleInput) => void {
  const { deps, requestId } = flow.env;
  let settled = false;
  return (input) => {
    if (settled) return;
    settled = true;
    const endedAt = flow.env.now();
    const outcome: RequestOutcome = {
      status: input.status,
      httpStatus: input.httpStatus,
      stream: flow.described.stream,
      provider: input.target?.provider,
      upstreamModel: input.target?.model,
      // Billed usage is bounded by the cap sent to the target that served (core/usage.ts reconcileUsage).
      usage:
        input.usage && input.target
          ? reconcileUsage(input.usage, {
              maxOutputTokens: outputCap({ max_tokens: flow.described.estimate.maxOutputTokens, n: flow.described.estimate.n }, flow.model.config, input.target).total,
            })
          : input.usage,
      usageEstimated: input.usageEstimated,
      ttftMs: input.ttftMs,
      totalMs: endedAt - flow.startedAt,
      attempts: input.attempts,
      fallback: input.fallback,
      errorCode: input.errorCode,
      endedAt,
    };
    // Handed to waitUntil now (Lambda and the local server's shutdown wait for it), run on the loop's next
    // check phase: the answer's last bytes and its end leave first, and requests and upstream chunks waiting
    // on I/O are served before this request's settlement work (its record, marshalling, signing, the log line).
    flow.env.ctx.waitUntil(
      nextTurn().then(() => {
        // Money first: nothing below (logging, content extraction) may stand between a request and its settlement.
        let settling: Promise<unknown>;
        try {
          settling = flow.admission.settle(outcome).catch((err: unknown) => deps.observer?.internalError?.(requestId, err));
        } catch (err) {
          settling = Promise.resolve(deps.observer?.internalError?.(requestId, err));
        }
        try {
          const attribution = flow.admission.attribution;
          deps.observer?.requestEnded?.({
            requestId,
            model: flow.model.name,
            attribution,
            outcome,
            content: attribution.logContent ? { prompt: flow.surface.promptText(flow.req), completion: input.completion?.() ?? '' } : undefined,
          });
        } catch (err) {
          deps.observer?.internalError?.(requestId, err);
        }
        return settling;
      }),
    );
  };
}

/** Settles a request no target could serve (before its first byte); returns the error to answer with. */
function failBeforeFirstByte<Req>(flow: Flow<Req>, settle: (i: SettleInput) => void, err: unknown, failed: { attempts: number; target?: TargetConfig }): GatewayError {
  const error = toGatewayError(err);
  const aborted = err instanceof ClientAbortedError;
  settle({
    status: aborted ? 'client_abort' : 'upstream_error',
    httpStatus: error.status,
    target: failed.target,
    attempts: failed.attempts,
    fallback: failed.target !== undefined && failed.target !== flow.model.config.targets[0],
    usageEstimated: false,
    errorCode: error.code ?? undefined,
  });
  return error;
}

function errorResponse<Req>(flow: Flow<Req>, error: GatewayError): Response {
  return jsonResponse(error.status, flow.surface.errorBody(error), merged(flow.baseHeaders, error.headers ?? {}));
}

/** The target with its adapter and output cap; undefined when its provider has no adapter. */
function targetPlan(deps: GatewayDeps, modelConfig: ResolvedModel['config'], described: SurfaceDescription, target: TargetConfig, headers: Headers): TargetPlan | undefined {
  const adapter = deps.adapters.get(target.provider);
  const provider = Object.hasOwn(deps.config.providers, target.provider) ? deps.config.providers[target.provider] : undefined;
  if (!adapter || !provider) return undefined;
  return {
    target,
    provider,
    adapter,
    headers,
    // The cap the gatekeeper reserved for on this target (the same function), always sent upstream.
    maxOutputTokens: outputCap({ max_tokens: described.estimate.maxOutputTokens, n: described.estimate.n }, modelConfig, target).perChoice,
  };
}

async function targetCall<Req>(flow: Flow<Req>, info: AttemptInfo): Promise<TargetCall> {
  const { deps } = flow.env;
  const target = info.target;
  const plan = targetPlan(deps, flow.model.config, flow.described, target, flow.headers);
  if (!plan) {
    throw new GatewayError(500, 'server_error', `Provider '${target.provider}' has no adapter.`, { code: 'provider_not_configured' });
  }
  return merged(plan, {
    apiKey: await deps.providerKeys.get(target.provider),
    signal: info.signal,
    cost: (usage: TokenUsage) => costOf(flow, target, usage),
  });
}

function costOf<Req>(flow: Flow<Req>, target: TargetConfig, usage: TokenUsage): number | undefined {
  const micros = flow.admission.price?.(usage, target.provider, target.model);
  return micros === undefined ? undefined : micros / 1_000_000;
}

function estimateUsage<Req>(flow: Flow<Req>, output: string): TokenUsage {
  // The whole prompt (tools, images, schemas), as admission counted it: aborting just before the usage
  // event must not make a large tool prompt free.
  return {
    inputTokens: flow.described.estimate.inputTokens,
    outputTokens: output ? estimateTokens(output) : 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

/** Header values must be printable ASCII; a model id from the client (provider/model) may not be. */
function headerValue(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v);
}

function servedHeaders(target: TargetConfig, attempts: number, fallback: boolean): Record<string, string> {
  return {
    'x-tollgate-provider': target.provider,
    'x-tollgate-upstream-model': headerValue(target.model),
    'x-tollgate-attempts': String(attempts),
    'x-tollgate-fallback': String(fallback),
  };
}
