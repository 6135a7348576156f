/**
 * POST /v1/chat/completions after validation and admission: route with fallback, relay the answer
 * (JSON or SSE), and settle the admission exactly once, whichever way the request ends.
 */
import type { TargetConfig } from '../core/config';
import { GatewayError, toGatewayError } from '../core/errors';
import type { Admission, OutcomeStatus, RequestOutcome } from '../core/gatekeeper';
import { contentText, type ChatCompletionChunk, type ChatCompletionRequest } from '../core/openai-schema';
import { outputCap } from '../core/output-cap';
import { ClientAbortedError, runWithFallback, type AttemptInfo, type FallbackResult, type ResolvedModel } from '../core/routing';
import { estimateInputTokens, estimateTokens } from '../core/token-estimate';
import { fromOpenAIUsage, type TokenUsage } from '../core/usage';
import { linkedAbortController } from '../providers/shared/abort';
import type { ProviderCall } from '../providers/types';
import type { GatewayDeps, RequestContext } from './gateway-app';
import { errorResponse, jsonResponse } from './http';
import { SSE_DONE, SSE_HEADERS, sseChunk, sseError } from './sse';
import { StreamStalledError, settledWithin, waitWithKeepAlive, type KeepAliveSettings } from './sse-keepalive';

export interface ChatFlow {
  deps: GatewayDeps;
  ctx: RequestContext;
  requestId: string;
  startedAt: number;
  body: ChatCompletionRequest;
  model: ResolvedModel;
  admission: Admission;
  signal: AbortSignal;
  baseHeaders: Record<string, string>;
  now: () => number;
}

export async function handleChatCompletion(flow: ChatFlow): Promise<Response> {
  const { deps, body } = flow;
  const stream = body.stream === true;
  // Aborts when the client's request is aborted, or when the response body is cancelled (a host that
  // cancels the body without aborting the request must still stop the upstream).
  const gone = linkedAbortController(flow.signal);
  // What failed before the first byte, for the record of a request no target could serve.
  const failed: { attempts: number; target?: TargetConfig } = { attempts: 0 };
  const signal = gone.signal;
  const fallbackOpts = {
    clientSignal: signal,
    retryBaseDelayMs: deps.config.server.retryBaseDelayMs,
    random: deps.random,
    onAttemptFailed: (t: TargetConfig, e: GatewayError) => {
      failed.attempts++;
      failed.target = t;
      deps.observer?.attemptFailed?.(flow.requestId, t.provider, e);
    },
  };
  const settle = settler(flow);

  if (!stream) {
    try {
      const result = await runWithFallback(flow.model.config.targets, async (info) => {
        const adapter = adapterFor(deps, info.target);
        return adapter.chat(await providerCall(flow, info));
      }, fallbackOpts);
      const usage = fromOpenAIUsage(result.value.usage);
      settle({
        status: 'success',
        httpStatus: 200,
        target: result.target,
        attempts: result.attempts,
        fallback: result.fallback,
        usage: usage ?? estimateUsage(body, contentText(result.value.choices[0]?.message?.content ?? '')),
        usageEstimated: usage === undefined,
        completion: () => contentText(result.value.choices[0]?.message?.content ?? ''),
      });
      return jsonResponse(200, result.value, { ...flow.baseHeaders, ...servedHeaders(result.target, result.attempts, result.fallback) });
    } catch (err) {
      return errorResponse(failBeforeFirstByte(flow, settle, err, failed), flow.baseHeaders);
    }
  }

  const opening = runWithFallback(flow.model.config.targets, async (info): Promise<Opened> => {
    const adapter = adapterFor(deps, info.target);
    const iterator = adapter.chatStream(await providerCall(flow, info))[Symbol.asyncIterator]();
    // Resolve only with the first chunk in hand: until then a failure can still fall back.
    const first = await iterator.next();
    return { iterator, first, firstAt: flow.now() };
  }, fallbackOpts);
  // Wait up to one keep-alive interval for the first chunk with nothing committed: a failure in that time
  // is a plain JSON error with its real status. After that the 200 and SSE headers go out with keep-alive
  // comments (API Gateway cuts a silent stream after 5 minutes), fallback goes on behind them, and a
  // failure still to come can only be an SSE error event.
  const keepAlive = keepAliveSettings(deps);
  const early = await settledWithin(opening, keepAlive.intervalMs);
  if (early && !early.ok) return errorResponse(failBeforeFirstByte(flow, settle, early.error, failed), flow.baseHeaders);
  const openedNow = early?.value;

  const relay: SseRelay = new SseRelay({
    opening: openedNow ?? opening,
    includeUsage: body.stream_options?.include_usage === true,
    gone,
    keepAlive,
    openFailed: (err) => failBeforeFirstByte(flow, settle, err, failed),
    end: (opened, r) =>
      settle({
        ...r,
        target: opened.target,
        attempts: opened.attempts,
        fallback: opened.fallback,
        ttftMs: opened.value.firstAt - flow.startedAt,
        usage: relay.usage ?? estimateUsage(body, relay.generated),
        usageEstimated: relay.usage === undefined,
        completion: () => relay.generated,
      }),
  });
  // highWaterMark 0: the upstream is read only as fast as the client takes the answer (backpressure).
  return new Response(new ReadableStream<Uint8Array>(relay, { highWaterMark: 0 }), {
    status: 200,
    headers: {
      ...SSE_HEADERS,
      ...flow.baseHeaders,
      // Committed before a target answered: which one served is known only later (it is in the record).
      ...(openedNow ? servedHeaders(openedNow.target, openedNow.attempts, openedNow.fallback) : {}),
    },
  });
}

type Opened = { iterator: AsyncIterator<ChatCompletionChunk>; first: IteratorResult<ChatCompletionChunk>; firstAt: number };

function keepAliveSettings(deps: GatewayDeps): KeepAliveSettings {
  return { intervalMs: deps.config.server.sseKeepAliveMs, stallTimeoutMs: deps.config.server.streamStallTimeoutMs };
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
function settler(flow: ChatFlow): (input: SettleInput) => void {
  let settled = false;
  return (input) => {
    if (settled) return;
    settled = true;
    const endedAt = flow.now();
    const outcome: RequestOutcome = {
      status: input.status,
      httpStatus: input.httpStatus,
      stream: flow.body.stream === true,
      provider: input.target?.provider,
      upstreamModel: input.target?.model,
      usage: input.usage,
      usageEstimated: input.usageEstimated,
      ttftMs: input.ttftMs,
      totalMs: endedAt - flow.startedAt,
      attempts: input.attempts,
      fallback: input.fallback,
      errorCode: input.errorCode,
      endedAt,
    };
    // Money first: nothing below (logging, content extraction) may stand between a request and its settlement.
    flow.ctx.waitUntil(
      flow.admission.settle(outcome).catch((err: unknown) => flow.deps.observer?.internalError?.(flow.requestId, err)),
    );
    try {
      const attribution = flow.admission.attribution;
      flow.deps.observer?.requestEnded?.({
        requestId: flow.requestId,
        model: flow.model.name,
        attribution,
        outcome,
        content: attribution.logContent ? { prompt: promptText(flow.body), completion: input.completion?.() ?? '' } : undefined,
      });
    } catch (err) {
      flow.deps.observer?.internalError?.(flow.requestId, err);
    }
  };
}

function promptText(body: ChatCompletionRequest): string {
  return body.messages.map((m) => `${m.role}: ${contentText(m.content as Parameters<typeof contentText>[0])}`).join('\n');
}

/** Settles a request no target could serve (before its first byte); returns the error to answer with. */
function failBeforeFirstByte(
  flow: ChatFlow,
  settle: (i: SettleInput) => void,
  err: unknown,
  failed: { attempts: number; target?: TargetConfig },
): GatewayError {
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

function adapterFor(deps: GatewayDeps, target: TargetConfig) {
  const adapter = deps.adapters.get(target.provider);
  if (!adapter) throw new GatewayError(500, 'server_error', `Provider '${target.provider}' has no adapter.`, { code: 'provider_not_configured' });
  return adapter;
}

async function providerCall(flow: ChatFlow, info: AttemptInfo): Promise<ProviderCall> {
  const apiKey = await flow.deps.providerKeys.get(info.target.provider);
  return {
    request: { ...flow.body, model: info.target.model },
    signal: info.signal,
    apiKey,
    // The cap the gatekeeper reserved for on this target (the same function), always sent upstream.
    maxOutputTokens: outputCap(flow.body, flow.model.config, info.target).perChoice,
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

function chunkText(chunk: ChatCompletionChunk): string {
  let text = '';
  for (const choice of chunk.choices) {
    // Tolerate a choice without `delta` (seen from loose OpenAI-compatible hosts).
    const delta = choice.delta as typeof choice.delta | undefined;
    if (delta?.content) text += delta.content;
    for (const call of delta?.tool_calls ?? []) text += (call.function?.name ?? '') + (call.function?.arguments ?? '');
  }
  return text;
}

/** The client did not ask for usage: drop the usage-only chunk and usage fields (we still read them). */
function withoutUsage(chunk: ChatCompletionChunk): ChatCompletionChunk | undefined {
  if (chunk.usage == null) return chunk;
  if (chunk.choices.length === 0) return undefined;
  const { usage: _usage, ...rest } = chunk;
  return rest;
}

function estimateUsage(body: ChatCompletionRequest, output: string): TokenUsage {
  // The whole prompt (tools, images, schemas), as admission counted it: aborting just before the usage
  // chunk must not make a large tool prompt free.
  return {
    inputTokens: estimateInputTokens(body),
    outputTokens: output ? estimateTokens(output) : 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

type RelayEnd = Pick<SettleInput, 'status' | 'httpStatus' | 'errorCode'>;

interface SseRelayOptions {
  /** The opened upstream, or the fallback still running when the response was committed before it. */
  opening: FallbackResult<Opened> | Promise<FallbackResult<Opened>>;
  includeUsage: boolean;
  /** Aborted by the client's request signal or by cancel(); aborting it stops the upstream request. */
  gone: AbortController;
  keepAlive: KeepAliveSettings;
  /** No target could serve (after the response was committed): settles, returns the error to send. */
  openFailed: (err: unknown) => GatewayError;
  /** Settles a stream that opened. Runs at most once. */
  end: (opened: FallbackResult<Opened>, r: RelayEnd) => void;
}

/**
 * The SSE relay as the body stream's source: each `pull` (the client is ready for more) reads upstream
 * chunks until one is worth sending, so there is no generator between the upstream and the stream.
 * Usage is read from every chunk (metering) and stripped from what the client sees unless it asked for
 * it. While the upstream is silent the client gets keep-alive comments; an upstream silent for the stall
 * timeout between chunks is stopped. A failure after the first byte ends the stream with an OpenAI-style
 * error event; a client that leaves cancels the stream, which stops the upstream. Settlement runs
 * exactly once, however it ends.
 */
class SseRelay implements UnderlyingDefaultSource<Uint8Array> {
  usage: TokenUsage | undefined;
  generated = '';
  private opened: FallbackResult<Opened> | undefined;
  private next: IteratorResult<ChatCompletionChunk> | undefined;
  private doneSent = false;
  private ended = false;
  /** Set by cancel(): a read still in flight must not touch the (closed) controller. */
  private cancelled = false;

  constructor(private readonly o: SseRelayOptions) {
    if (!(o.opening instanceof Promise)) this.open(o.opening);
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.ended || this.cancelled) return;
    if (!this.opened && !(await this.awaitOpening(controller))) return;
    const opened = this.opened!;
    const iterator = opened.value.iterator;
    if (this.doneSent) {
      // Like the generator this replaces: success is recorded once the client has taken [DONE].
      this.finish({ status: 'success', httpStatus: 200 });
      controller.close();
      return;
    }
    const { intervalMs, stallTimeoutMs } = this.o.keepAlive;
    const stall = { ms: stallTimeoutMs, error: () => new StreamStalledError(opened.target.provider, stallTimeoutMs) };
    const read = () => waitWithKeepAlive(iterator.next(), controller, intervalMs, stall);
    try {
      let r = this.next ?? (await read());
      this.next = undefined;
      for (;;) {
        if (this.cancelled) return;
        if (r.done) {
          this.doneSent = true;
          controller.enqueue(SSE_DONE);
          return;
        }
        const chunk = r.value;
        if (chunk.usage) this.usage = fromOpenAIUsage(chunk.usage);
        const text = chunkText(chunk);
        if (text) this.generated += text;
        const out = this.o.includeUsage ? chunk : withoutUsage(chunk);
        if (out) {
          controller.enqueue(sseChunk(out));
          return;
        }
        r = await read();
      }
    } catch (err) {
      const clientGone = this.o.gone.signal.aborted;
      // Whatever threw (the upstream, a stall, or a chunk we could not relay), the upstream must stop now.
      // Abort first: a read in flight (a stall) would otherwise hold return() until the next chunk.
      if (err instanceof StreamStalledError) this.o.gone.abort(err);
      void iterator.return?.().catch(() => undefined);
      if (this.cancelled) return;
      if (clientGone) {
        this.finish({ status: 'client_abort', httpStatus: 499 });
      } else {
        // The first byte is gone: no fallback now. End the stream with an OpenAI-style error event.
        const error = toGatewayError(err);
        this.finish({ status: 'stream_error', httpStatus: error.status, errorCode: error.code ?? undefined });
        controller.enqueue(sseError(error.toBody()));
      }
      controller.close();
    }
  }

  async cancel(): Promise<void> {
    if (this.ended || this.cancelled) return;
    this.cancelled = true;
    if (this.doneSent) {
      // The client has the whole answer, [DONE] included: that is a success, however it hung up.
      this.finish({ status: 'success', httpStatus: 200 });
      return;
    }
    // Abort first: a read in flight would otherwise hold return() until the upstream's next chunk.
    this.o.gone.abort(new Error('client cancelled the response'));
    if (!this.opened) {
      // Still opening: the fallback sees the abort and gives up (or had just opened a stream).
      let opened: FallbackResult<Opened>;
      try {
        opened = await this.o.opening;
      } catch (err) {
        this.ended = true;
        this.o.openFailed(err);
        return;
      }
      this.open(opened);
    }
    await this.opened!.value.iterator.return?.().catch(() => undefined);
    this.finish({ status: 'client_abort', httpStatus: 499 });
  }

  private open(opened: FallbackResult<Opened>): void {
    this.opened = opened;
    this.next = opened.value.first;
  }

  /** Waits for the fallback with keep-alives; false when the stream ended (no target, or cancelled). */
  private async awaitOpening(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    let opened: FallbackResult<Opened>;
    try {
      opened = await waitWithKeepAlive(Promise.resolve(this.o.opening), controller, this.o.keepAlive.intervalMs);
    } catch (err) {
      if (this.cancelled || this.ended) return false;
      this.ended = true;
      const error = this.o.openFailed(err);
      controller.enqueue(sseError(error.toBody()));
      controller.close();
      return false;
    }
    if (this.cancelled) return false; // cancel() takes it from here
    this.open(opened);
    return true;
  }

  private finish(r: RelayEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.o.end(this.opened!, r);
  }
}
