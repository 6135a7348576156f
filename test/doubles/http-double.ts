/**
 * The shared machinery of the upstream doubles: a real HTTP/1.1 server on 127.0.0.1 (ephemeral port) that
 * records every request, plays scripted behaviours (a queue, then a default), and notices when the client
 * goes away. Provider doubles only render their wire format.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DoubleUsage {
  /** OpenAI convention: includes cached and cache-write tokens. */
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number;
  cacheWriteTokens?: number;
}

export interface DoubleToolCall {
  id?: string;
  name: string;
  /** JSON text; streamed in a few pieces. */
  arguments: string;
}

export interface StreamShape {
  /** Wait this long before sending the status line and headers. */
  delayMs?: number;
  /** Number of content chunks; with no `text`, each chunk is `'tok '`. */
  chunkCount?: number;
  /** Pause between content chunks (0: write them back to back). */
  chunkDelayMs?: number;
  text?: string;
}

export type DoubleBehaviour =
  | ({
      kind: 'ok';
      toolCalls?: DoubleToolCall[];
      /** null: the upstream reports no usage at all. */
      usage?: DoubleUsage | null;
      /** Provider-native stop reason (e.g. `length`, `max_tokens`); defaults to the natural one. */
      finishReason?: string;
      /**
       * A model that talks until it is stopped: it generates (and bills) exactly the output cap the request
       * forwarded, or `defaultMaxTokens` (the host's own limit) when the request forwarded none. Overrides `usage`.
       */
      runsToCap?: { promptTokens: number; defaultMaxTokens: number };
      /** Extended thinking before the answer (Bedrock double: reasoningContent blocks); `redacted`: a base64 redacted block after it. */
      thinking?: { text: string; signature: string; redacted?: string };
    } & StreamShape)
  | { kind: 'status'; status: number; message?: string; errorType?: string; delayMs?: number }
  /** Accept the request and never answer; ends when the client aborts or the double closes. */
  | { kind: 'hang' }
  /** Send the opening events and `afterChunks` content chunks, then destroy the socket. */
  | ({ kind: 'dropMidStream'; afterChunks: number } & StreamShape)
  /** Send `afterChunks` content chunks (default 1), then a chunk that is not valid JSON. */
  | ({ kind: 'malformedChunk'; afterChunks?: number } & StreamShape)
  /** A provider-specific in-stream error event (OpenAI in-band `error`, Anthropic `error`, Bedrock exception frame). */
  | ({ kind: 'streamError'; afterChunks?: number; errorType?: string; message?: string } & StreamShape);

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** The client closed the connection before the response was complete. */
  aborted: boolean;
  /** The double finished its response. */
  completed: boolean;
  /** What the double billed for this request (the usage it reported), once it sent it. */
  billed?: DoubleUsage;
}

export interface UpstreamDouble {
  url: string;
  requests: RecordedRequest[];
  /** Replace the queue of one-shot behaviours (used in order, one per request). */
  setScript(...behaviours: DoubleBehaviour[]): void;
  /** What requests get once the queue is empty. */
  setDefault(behaviour: DoubleBehaviour): void;
  /** How many requests the client aborted so far. */
  abortedCount(): number;
  /** The most requests that were open at the same time. */
  maxConcurrent(): number;
  /** Resolves when `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves when request `index` was aborted by the client. */
  waitForAbort(index: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DoubleOptions {
  default?: DoubleBehaviour;
  script?: DoubleBehaviour[];
  /** Delay before the first byte for behaviours that set none (e.g. a slow upstream in benchmarks). */
  delayMs?: number;
}

/** What a provider renderer gets to answer one request. */
export class ResponseWriter {
  /** True once the double cut the connection on purpose. */
  dropped = false;
  private flushed: Promise<void> = Promise.resolve();

  constructor(
    readonly res: ServerResponse,
    /** Aborted when the client goes away or the double closes. */
    readonly signal: AbortSignal,
  ) {}

  /** Resolves after `ms`, or early (returning false) when the client is gone. */
  async sleep(ms: number): Promise<boolean> {
    if (this.signal.aborted) return false;
    if (ms <= 0) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Write with backpressure (benchmarks stream thousands of chunks); false when the client is gone. */
  async write(data: string | Uint8Array): Promise<boolean> {
    if (this.signal.aborted || this.res.destroyed) return false;
    this.flushed = new Promise((resolve) => this.res.write(data, () => resolve()));
    if (this.res.writableNeedDrain === false) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.res.off('drain', onDrain);
        this.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onAbort = () => done(false);
      this.res.on('drain', onDrain);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.signal.aborted) return;
    this.res.writeHead(status, { 'content-type': 'application/json', ...headers });
    this.res.end(JSON.stringify(body));
  }

  /** Cut the connection without finishing the response (after what was written reached the socket). */
  async drop(): Promise<void> {
    this.dropped = true;
    await this.flushed;
    this.res.socket?.destroy();
  }
}

export type Renderer = (w: ResponseWriter, behaviour: DoubleBehaviour, request: RecordedRequest) => Promise<void>;

const DEFAULT_OK: DoubleBehaviour = { kind: 'ok' };

export async function startHttpDouble(render: Renderer, opts: DoubleOptions = {}): Promise<UpstreamDouble> {
  let script = [...(opts.script ?? [])];
  let fallback = opts.default ?? DEFAULT_OK;
  const requests: RecordedRequest[] = [];
  let open = 0;
  let peak = 0;
  const closing = new AbortController();
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: parseMaybeJson(raw),
      aborted: false,
      completed: false,
    };
    requests.push(recorded);
    open++;
    peak = Math.max(peak, open);
    res.on('close', () => open--);
    const gone = new AbortController();
    const signal = AbortSignal.any([gone.signal, closing.signal]);
    const writer = new ResponseWriter(res, signal);
    res.on('close', () => {
      // Only the client going away counts as an abort, not the double cutting the line or shutting down.
      if (!res.writableFinished && !writer.dropped && !closing.signal.aborted) recorded.aborted = true;
      gone.abort();
      notify();
    });
    res.on('finish', () => {
      recorded.completed = true;
      notify();
    });
    notify();
    const behaviour = echoHeaders(script.shift() ?? fallback, recorded);
    try {
      if (behaviour.kind === 'hang') {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return;
      }
      const delayMs = ('delayMs' in behaviour ? behaviour.delayMs : undefined) ?? opts.delayMs ?? 0;
      if (delayMs > 0 && !(await writer.sleep(delayMs))) return;
      await render(writer, behaviour, recorded);
    } catch {
      await writer.drop();
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
    });
  }

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setScript: (...behaviours) => {
      script = [...behaviours];
    },
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    abortedCount: () => requests.filter((r) => r.aborted).length,
    maxConcurrent: () => peak,
    waitForRequests: (count, timeoutMs = 5000) => waitUntil(() => requests.length >= count, timeoutMs, `${count} request(s)`),
    waitForAbort: (index, timeoutMs = 5000) =>
      waitUntil(() => requests[index]?.aborted === true, timeoutMs, `request ${index} to be aborted`),
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * A behaviour's `message` may quote what the client sent, as careless upstreams do: `{{header:NAME}}` is
 * replaced with that request header's value, `{{header:NAME:FROM:TO}}` with a slice of it.
 */
function echoHeaders(behaviour: DoubleBehaviour, request: RecordedRequest): DoubleBehaviour {
  if (!('message' in behaviour) || typeof behaviour.message !== 'string') return behaviour;
  const message = behaviour.message.replace(/\{\{header:([a-z0-9-]+)(?::(\d+):(\d+))?\}\}/g, (_m, name: string, from?: string, to?: string) => {
    const value = String(request.headers[name] ?? '');
    return from === undefined ? value : value.slice(Number(from), Number(to));
  });
  return { ...behaviour, message };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

function parseMaybeJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** The content pieces a stream sends: `chunkCount` pieces of `text`, or words of it by default. */
export function textPieces(shape: StreamShape, defaultText = 'Hello from the double.'): string[] {
  if (shape.chunkCount !== undefined && shape.text === undefined) return Array.from({ length: shape.chunkCount }, () => 'tok ');
  const text = shape.text ?? defaultText;
  if (shape.chunkCount === undefined) return text.match(/\S+\s*|\s+/g) ?? [];
  const size = Math.max(1, Math.ceil(text.length / shape.chunkCount));
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

export function fullText(shape: StreamShape, defaultText?: string): string {
  return textPieces(shape, defaultText).join('');
}

/** JSON arguments in up to three pieces, as upstreams stream them. */
export function argumentPieces(args: string): string[] {
  if (args.length < 3) return [args];
  const third = Math.ceil(args.length / 3);
  return [args.slice(0, third), args.slice(third, 2 * third), args.slice(2 * third)].filter((p) => p !== '');
}

export const DEFAULT_USAGE: DoubleUsage = { promptTokens: 12, completionTokens: 5 };
