/**
 * A Bedrock runtime upstream on loopback, spoken to by the real BedrockRuntimeClient:
 * `POST /model/{modelId}/invoke` (Titan and Cohere embeddings, embeddings-double.ts), `POST /model/{modelId}/converse` (JSON) and `/model/{modelId}/converse-stream` (the AWS event-stream
 * binary framing: `:event-type`, `:content-type`, `:message-type` event; exception frames with
 * `:message-type` exception and `:exception-type`). Errors before the stream use `x-amzn-errortype`, as
 * the restJson1 protocol expects. Plain HTTP/1.1: the adapter's client uses NodeHttpHandler.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import {
  DEFAULT_USAGE,
  argumentPieces,
  fullText,
  startHttpDouble,
  textPieces,
  type DoubleBehaviour,
  type DoubleOptions,
  type DoubleUsage,
  type RecordedRequest,
  type ResponseWriter,
  type UpstreamDouble,
} from './http-double';
import { renderBedrockEmbeddings } from './embeddings-double';

export type { DoubleBehaviour, DoubleOptions, UpstreamDouble } from './http-double';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export function startBedrockDouble(opts: DoubleOptions = {}): Promise<UpstreamDouble> {
  return startHttpDouble(render, opts);
}

/** Bedrock's `inputTokens` excludes cache reads and writes; the double's usage is in OpenAI terms. */
export function bedrockUsage(u: DoubleUsage) {
  const cacheRead = u.cachedTokens ?? 0;
  const cacheWrite = u.cacheWriteTokens ?? 0;
  const input = u.promptTokens - cacheRead - cacheWrite;
  return {
    inputTokens: input,
    outputTokens: u.completionTokens,
    totalTokens: u.promptTokens + u.completionTokens,
    ...(cacheRead ? { cacheReadInputTokens: cacheRead } : {}),
    ...(cacheWrite ? { cacheWriteInputTokens: cacheWrite } : {}),
  };
}

/** Long streams repeat the same frames; encoding (CRC32 in JS) would otherwise dominate benchmarks. */
const frameCache = new Map<string, Uint8Array>();
const FRAME_CACHE_LIMIT = 512;

export function eventFrame(eventType: string, body: unknown): Uint8Array {
  const json = JSON.stringify(body);
  const key = `${eventType}\n${json}`;
  const cached = frameCache.get(key);
  if (cached) return cached;
  const frame = encodeEvent(eventType, json);
  if (frameCache.size >= FRAME_CACHE_LIMIT) frameCache.clear();
  frameCache.set(key, frame);
  return frame;
}

function encodeEvent(eventType: string, json: string): Uint8Array {
  return toBuffer(codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(json),
  }));
}

/** node:http writes Buffers noticeably faster than plain Uint8Arrays. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function exceptionFrame(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

function errorTypeFor(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 401:
      return 'UnrecognizedClientException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 408:
      return 'ModelTimeoutException';
    case 424:
      return 'ModelErrorException';
    case 429:
      return 'ThrottlingException';
    case 503:
      return 'ServiceUnavailableException';
    default:
      return 'InternalServerException';
  }
}

async function render(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest): Promise<void> {
  if (b.kind === 'hang') return;
  if (b.kind === 'status') {
    const type = b.errorType ?? errorTypeFor(b.status);
    w.json(b.status, { message: b.message ?? `double says ${type}` }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'req-double' });
    return;
  }
  const invoke = /^\/model\/([^/]+)\/invoke$/.exec(request.path);
  if (invoke) return renderBedrockEmbeddings(w, b, request, decodeURIComponent(invoke[1]));
  const stream = request.path.endsWith('/converse-stream');
  const toolCalls = b.kind === 'ok' ? (b.toolCalls ?? []) : [];
  const withText = toolCalls.length === 0 || b.text !== undefined;
  const usage = b.kind === 'ok' ? b.usage : DEFAULT_USAGE;
  const stopReason = b.kind === 'ok' ? (b.finishReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn')) : 'end_turn';
  const thinking = b.kind === 'ok' ? b.thinking : undefined;
  const thinkingBlocks = thinking
    ? [{ reasoningContent: { reasoningText: { text: thinking.text, signature: thinking.signature } } }, ...(thinking.redacted ? [{ reasoningContent: { redactedContent: thinking.redacted } }] : [])]
    : [];

  if (!stream) {
    if (b.kind === 'streamError') {
      w.json(424, { message: b.message ?? 'model error' }, { 'x-amzn-errortype': 'ModelErrorException' });
      return;
    }
    const response = {
      output: {
        message: {
          role: 'assistant',
          content: [
            ...thinkingBlocks,
            ...(withText ? [{ text: fullText(b) }] : []),
            ...toolCalls.map((c, i) => ({ toolUse: { toolUseId: c.id ?? `tooluse_${i}`, name: c.name, input: JSON.parse(c.arguments) as unknown } })),
          ],
        },
      },
      stopReason,
      ...(usage === null ? {} : { usage: bedrockUsage(usage ?? DEFAULT_USAGE) }),
      metrics: { latencyMs: 12 },
    };
    const text = JSON.stringify(response);
    if (b.kind === 'malformedChunk') {
      w.res.writeHead(200, { 'content-type': 'application/json' });
      w.res.end(text.slice(0, text.length / 2));
      return;
    }
    if (b.kind === 'dropMidStream') {
      w.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      await w.write(text.slice(0, text.length / 2));
      return w.drop();
    }
    w.json(200, response, { 'x-amzn-requestid': 'req-double' });
    return;
  }

  w.res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'req-double' });
  if (!(await w.write(eventFrame('messageStart', { role: 'assistant' })))) return;
  let blockIndex = 0;
  if (thinking) {
    for (const piece of textPieces({ text: thinking.text })) {
      if (!(await w.write(eventFrame('contentBlockDelta', { contentBlockIndex: blockIndex, delta: { reasoningContent: { text: piece } } })))) return;
    }
    if (!(await w.write(eventFrame('contentBlockDelta', { contentBlockIndex: blockIndex, delta: { reasoningContent: { signature: thinking.signature } } })))) return;
    if (!(await w.write(eventFrame('contentBlockStop', { contentBlockIndex: blockIndex })))) return;
    blockIndex++;
    if (thinking.redacted) {
      if (!(await w.write(eventFrame('contentBlockDelta', { contentBlockIndex: blockIndex, delta: { reasoningContent: { redactedContent: thinking.redacted } } })))) return;
      if (!(await w.write(eventFrame('contentBlockStop', { contentBlockIndex: blockIndex })))) return;
      blockIndex++;
    }
  }
  if (withText) {
    const pieces = textPieces(b);
    const limit = b.kind === 'ok' ? pieces.length : Math.min(pieces.length, b.afterChunks ?? 1);
    const delay = b.chunkDelayMs ?? 0;
    for (let i = 0; i < limit; i++) {
      if (delay > 0 && !(await w.sleep(delay))) return;
      if (!(await w.write(eventFrame('contentBlockDelta', { contentBlockIndex: blockIndex, delta: { text: pieces[i] } })))) return;
    }
    if (b.kind === 'dropMidStream') return w.drop();
    if (b.kind === 'malformedChunk') {
      // A frame whose checksum does not match its bytes.
      const frame = Uint8Array.from(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } }));
      frame[frame.length - 1] ^= 0xff;
      await w.write(frame);
      w.res.end();
      return;
    }
    if (b.kind === 'streamError') {
      await w.write(exceptionFrame(b.errorType ?? 'modelStreamErrorException', b.message ?? 'The model stream failed.'));
      w.res.end();
      return;
    }
    if (!(await w.write(eventFrame('contentBlockStop', { contentBlockIndex: blockIndex })))) return;
    blockIndex++;
  }
  for (const [i, call] of toolCalls.entries()) {
    const contentBlockIndex = blockIndex + i;
    if (!(await w.write(eventFrame('contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: call.id ?? `tooluse_${i}`, name: call.name } } })))) return;
    for (const piece of argumentPieces(call.arguments)) {
      if (!(await w.write(eventFrame('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: piece } } })))) return;
    }
    if (!(await w.write(eventFrame('contentBlockStop', { contentBlockIndex })))) return;
  }
  if (!(await w.write(eventFrame('messageStop', { stopReason })))) return;
  const metadata = { ...(usage === null ? {} : { usage: bedrockUsage(usage ?? DEFAULT_USAGE) }), metrics: { latencyMs: 15 } };
  await w.write(eventFrame('metadata', metadata));
  w.res.end();
}
