/**
 * The stream relay every surface shares: an upstream's items, already turned into frames (the bytes a
 * surface sends, the usage and text it meters), pulled into the response body. Each `pull` (the client is
 * ready for more) reads upstream items until one has bytes to send, so the upstream is read only as fast
 * as the client takes the answer. A failure after the first byte ends the stream with the surface's own
 * error event; a client that leaves cancels the stream, which stops the upstream. `end` runs exactly once,
 * however the stream ends.
 */
import { toGatewayError, type GatewayError } from '../core/errors';
import type { OutcomeStatus } from '../core/gatekeeper';
import type { FallbackResult } from '../core/routing';
import type { TokenUsage } from '../core/usage';
import { wakeup } from '../core/wakeup';
import { RAW_BODY } from './http';
import { KeepAliveWatch, StreamStalledError, type KeepAliveSettings } from './sse-keepalive';

/** What one upstream item becomes on a surface's stream. */
export interface StreamFrame {
  /** Bytes to send now (one or more complete SSE events); none: nothing to send for this item. */
  bytes?: Uint8Array;
  /** Usage reported so far (cumulative: the last one wins); metered and settled. */
  usage?: TokenUsage;
  /** Generated text in this item (content log, and the estimate when no usage arrives). */
  text?: string;
  /** The surface's closing frame (chat's `[DONE]`): once the client has it, the request is a success. */
  final?: boolean;
}

export interface RelayEnd {
  status: OutcomeStatus;
  httpStatus: number;
  errorCode?: string;
}

/**
 * Upstream items mapped to frames without a generator in between (one promise per item, no generator
 * state machine). `end` (optional) is sent once after the last item. A mapping that throws fails `next()`,
 * like an upstream failure; `return()` closes the upstream.
 */
export function mapFrames<T>(items: AsyncIterator<T>, frame: (item: T) => StreamFrame, end?: () => StreamFrame): AsyncIterator<StreamFrame> {
  let ended = false;
  return {
    async next() {
      if (ended) return { done: true, value: undefined };
      const r = await items.next();
      if (!r.done) return { done: false, value: frame(r.value) };
      ended = true;
      return end ? { done: false, value: end() } : { done: true, value: undefined };
    },
    async return() {
      ended = true;
      await items.return?.();
      return { done: true, value: undefined };
    },
  };
}

/** The stream a target opened: its frames, the first one already in hand (so fallback was still possible). */
export interface OpenedStream {
  iterator: AsyncIterator<StreamFrame>;
  first: IteratorResult<StreamFrame>;
  firstAt: number;
}

export interface FrameRelayOptions {
  /** The opened upstream, or the fallback still running when the response was committed before it. */
  opening: FallbackResult<OpenedStream> | Promise<FallbackResult<OpenedStream>>;
  /** Sent first, before the upstream's frames (and before the opening settles): the surface's prelude. */
  prelude?: Uint8Array;
  /** Aborted by the client's request signal or by cancel(); aborting it stops the upstream request. */
  gone: AbortController;
  keepAlive: KeepAliveSettings;
  /** The surface's error event, sent when the stream fails after its first byte. */
  errorEvent: (error: GatewayError) => Uint8Array;
  /** No target could serve (after the response was committed): settles, returns the error to send. */
  openFailed: (err: unknown) => GatewayError;
  /** Settles a stream that opened. Runs at most once. */
  end: (opened: FallbackResult<OpenedStream>, r: RelayEnd) => void;
  /** A target opened (called before its first frame is enqueued). */
  onOpen?: (opened: FallbackResult<OpenedStream>) => void;
}

/**
 * While the upstream is silent the client gets keep-alive comments (sse-keepalive.ts); an upstream silent
 * for the stall timeout between frames is stopped.
 */
export class FrameRelay implements UnderlyingDefaultSource<Uint8Array> {
  usage: TokenUsage | undefined;
  generated = '';
  private opened: FallbackResult<OpenedStream> | undefined;
  private next: IteratorResult<StreamFrame> | undefined;
  private finalSent = false;
  private ended = false;
  /** Set by cancel(): a read still in flight must not touch the (closed) controller. */
  private cancelled = false;
  private prelude: Uint8Array | undefined;
  private watch: KeepAliveWatch | undefined;

  constructor(private readonly o: FrameRelayOptions) {
    this.prelude = o.prelude;
    if (!(o.opening instanceof Promise)) this.open(o.opening);
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.ended || this.cancelled) return;
    if (this.prelude) {
      controller.enqueue(this.prelude);
      this.prelude = undefined;
      return;
    }
    if (!this.opened && !(await this.awaitOpening(controller))) return;
    const opened = this.opened!;
    const iterator = opened.value.iterator;
    if (this.finalSent) {
      // Success is recorded once the client has taken the closing frame.
      this.finish({ status: 'success', httpStatus: 200 });
      void iterator.return?.().catch(() => undefined);
      controller.close();
      return;
    }
    const { stallTimeoutMs } = this.o.keepAlive;
    const stall = { ms: stallTimeoutMs, error: () => new StreamStalledError(opened.target.provider, stallTimeoutMs) };
    const watch = this.watchOn(controller);
    const read = () => watch.wait(iterator.next(), stall);
    try {
      let r = this.next ?? (await read());
      this.next = undefined;
      for (;;) {
        if (this.cancelled) return;
        if (r.done) {
          this.finish({ status: 'success', httpStatus: 200 });
          controller.close();
          return;
        }
        const frame = r.value;
        if (frame.usage) this.usage = frame.usage;
        if (frame.text) this.generated += frame.text;
        if (frame.bytes) {
          controller.enqueue(frame.bytes);
          if (frame.final) this.finalSent = true;
          return;
        }
        r = await read();
      }
    } catch (err) {
      const clientGone = this.o.gone.signal.aborted;
      // Whatever threw (the upstream, a stall, or an item we could not relay), the upstream must stop now.
      // Abort first: a read in flight (a stall) would otherwise hold return() until the next item.
      if (err instanceof StreamStalledError) this.o.gone.abort(err);
      void iterator.return?.().catch(() => undefined);
      if (this.cancelled) return;
      if (clientGone) {
        this.finish({ status: 'client_abort', httpStatus: 499 });
      } else {
        // The first byte is gone: no fallback now. End the stream with the surface's error event.
        const error = toGatewayError(err);
        this.finish({ status: 'stream_error', httpStatus: error.status, errorCode: error.code ?? undefined });
        controller.enqueue(this.o.errorEvent(error));
      }
      controller.close();
    }
  }

  async cancel(): Promise<void> {
    if (this.ended || this.cancelled) return;
    this.cancelled = true;
    this.watch?.stop();
    if (this.finalSent) {
      // The client has the whole answer, its closing frame included: that is a success, however it hung up.
      this.finish({ status: 'success', httpStatus: 200 });
      void this.opened?.value.iterator.return?.().catch(() => undefined);
      return;
    }
    // Abort first: a read in flight would otherwise hold return() until the upstream's next item.
    this.o.gone.abort(new Error('client cancelled the response'));
    if (!this.opened) {
      // Still opening: the fallback sees the abort and gives up (or had just opened a stream).
      let opened: FallbackResult<OpenedStream>;
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

  /** The opening settled before anything was read: the relay starts from its first frame, as if given it. */
  openedEarly(opened: FallbackResult<OpenedStream>): void {
    if (!this.opened && !this.ended && !this.cancelled) this.open(opened);
  }

  private open(opened: FallbackResult<OpenedStream>): void {
    this.opened = opened;
    this.next = opened.value.first;
    this.o.onOpen?.(opened);
  }

  /** Waits for the fallback with keep-alives; false when the stream ended (no target, or cancelled). */
  private async awaitOpening(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    let opened: FallbackResult<OpenedStream>;
    try {
      opened = await this.watchOn(controller).wait(Promise.resolve(this.o.opening));
    } catch (err) {
      if (this.cancelled || this.ended) return false;
      this.ended = true;
      const error = this.o.openFailed(err);
      controller.enqueue(this.o.errorEvent(error));
      controller.close();
      return false;
    }
    if (this.cancelled) return false; // cancel() takes it from here
    this.open(opened);
    return true;
  }

  private watchOn(controller: ReadableStreamDefaultController<Uint8Array>): KeepAliveWatch {
    return (this.watch ??= new KeepAliveWatch(controller, this.o.keepAlive.intervalMs));
  }

  private finish(r: RelayEnd): void {
    this.watch?.stop();
    if (this.ended) return;
    this.ended = true;
    this.o.end(this.opened!, r);
  }
}

/**
 * A 200 streaming Response whose body is a relay. The servers in this repo read it through `bodyReader`,
 * which pulls the relay directly: no web stream between the relay and the socket (a promise pair and a
 * queue step per chunk). The web stream is not even built for them: constructing a ReadableStream (and
 * the Response around it) cost ~0.2 ms of a request's time to first byte in situ (CPU profile,
 * bench/profile-path.ts), as it is built once the first frame is in hand. Any other reader gets the same
 * bytes: `body` builds the stream on first access, and the body-reading methods read through it.
 */
class RelayResponse extends Response {
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;

  constructor(
    private readonly source: FrameRelay,
    init: ResponseInit,
  ) {
    super(null, init);
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    // highWaterMark 0: the upstream is read only as fast as the reader takes the answer (backpressure).
    // (The frames are Buffers and Uint8Arrays over plain ArrayBuffers, as Response's type says.)
    return (this.#stream ??= new ReadableStream<Uint8Array>(this.source, { highWaterMark: 0 }) as ReadableStream<Uint8Array<ArrayBuffer>>);
  }

  /** The relay, for a reader that pulls it directly; none once a web stream was built over it (it owns the relay then). */
  directSource(): FrameRelay | undefined {
    return this.#stream ? undefined : this.source;
  }

  override get bodyUsed(): boolean {
    return this.#stream?.locked ?? false;
  }

  override text(): Promise<string> {
    return this.whole().text();
  }

  override json(): Promise<unknown> {
    return this.whole().json();
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.whole().arrayBuffer();
  }

  override blob(): Promise<Blob> {
    return this.whole().blob();
  }

  override formData(): Promise<FormData> {
    return this.whole().formData();
  }

  override clone(): Response {
    throw new TypeError('a streamed gateway response cannot be cloned');
  }

  /** The body as a plain Response, for the methods that read it whole. */
  private whole(): Response {
    return new Response(this.body, { status: this.status, headers: this.headers });
  }
}

export function streamResponse(source: FrameRelay, init: ResponseInit): Response {
  return new RelayResponse(source, init);
}

/** Whether a Response has a body, without building a relay's web stream to find out. */
export function hasBody(response: Response): boolean {
  return response instanceof RelayResponse || response.body !== null;
}

/** A reader of one chunk already in hand. */
function onceReader(bytes: Uint8Array): BodyReader {
  let left: Uint8Array | undefined = bytes;
  return {
    async read() {
      const value = left;
      left = undefined;
      return value ? { done: false, value } : { done: true, value: undefined };
    },
    async cancel() {
      left = undefined;
    },
  };
}

/** The subset of a ReadableStreamDefaultReader the servers use. */
export interface BodyReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
}

/**
 * Reads a Response body: a relay's frames directly (streamResponse), anything else through its stream.
 * The direct path keeps a ReadableStream's contract with highWaterMark 0: the source is pulled only when a
 * read waits and never while a pull is running, what it enqueues meanwhile (keep-alive comments) is read
 * at once, `desiredSize` is 0 only while nothing waits unread, and a cancel reaches the source once.
 */
export function bodyReader(response: Response): BodyReader | undefined {
  const raw = (response as Response & { [RAW_BODY]?: string })[RAW_BODY];
  if (raw !== undefined && !response.bodyUsed) return onceReader(Buffer.from(raw, 'utf8'));
  const direct = response instanceof RelayResponse ? response.directSource() : undefined;
  if (!direct) return response.body?.getReader();
  const c = new DirectController(direct);
  let pulling = false;
  return {
    async read() {
      for (;;) {
        if (c.queue.length > 0) return { done: false, value: c.queue.shift() as Uint8Array };
        if (c.failure) throw c.failure.error;
        const source = c.source;
        if (!source) return { done: true, value: undefined };
        if (!pulling) {
          pulling = true;
          source.pull(c as unknown as ReadableStreamDefaultController<Uint8Array>).then(
            () => {
              pulling = false;
              c.notify();
            },
            (err: unknown) => {
              pulling = false;
              c.error(err);
            },
          );
        }
        await c.wait();
      }
    },
    async cancel() {
      const s = c.source;
      if (!s) return;
      c.source = undefined;
      c.queue.length = 0;
      c.notify();
      await s.cancel();
    },
  };
}

/**
 * The controller bodyReader's direct source pulls into. A class, not an object literal: a literal with an
 * accessor (`desiredSize`) becomes a dictionary-mode object each time it is made.
 */
class DirectController {
  /**
   * The relay until the stream is closed, errored or cancelled (undefined: closed). Released then, as a web
   * stream clears its source's algorithms: kept, it let a finished request's whole object graph (relay,
   * pipeline, adapter, response) outlive two scavenges and be promoted (12.8 KB per streamed request on
   * Node 22, scavenge pauses 4.0 ms p50; released: 1.0 KB, 2.0 ms;
   * `TOLLGATE_BENCH_NODE=<node 22> npx tsx bench/gc-survival.ts open 800`).
   */
  source: FrameRelay | undefined;
  readonly queue: Uint8Array[] = [];
  failure: { error: unknown } | undefined;
  readonly wait: () => Promise<void>;
  readonly notify: () => void;

  constructor(source: FrameRelay) {
    this.source = source;
    const { wait, notify } = wakeup();
    this.wait = wait;
    this.notify = notify;
  }

  get desiredSize(): number {
    return !this.source || this.queue.length === 0 ? 0 : -this.queue.length;
  }

  enqueue(chunk: Uint8Array): void {
    if (!this.source) throw new TypeError('The stream is closed');
    this.queue.push(chunk);
    this.notify();
  }

  close(): void {
    this.source = undefined;
    this.notify();
  }

  error(err: unknown): void {
    this.source = undefined;
    this.failure ??= { error: err };
    this.notify();
  }
}
