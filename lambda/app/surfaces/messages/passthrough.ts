/**
 * Messages to an `anthropic` target: the client's own body (only `model` replaced by the upstream id, and
 * `max_tokens` by the gateway's output cap when that is lower) and
 * its `anthropic-version` / `anthropic-beta` headers go upstream as they are, and the answer comes back
 * event for event. The relay reads what it meters on the way: usage from `message_start` and the
 * cumulative `message_delta` (where `usage.cost` is added), text for the content log.
 */
import type { TokenUsage } from '../../../core/usage';
import { messagesUrl, requestHeaders } from '../../../providers/anthropic/api';
import { commonErrorMessage, isRecord, postJson, readJson, type OpenResponse } from '../../../providers/shared/http-transport';
import { readSse } from '../../../providers/shared/sse-reader';
import { count } from '../../../providers/shared/token-usage';
import { connectionError, malformedResponseError, statusForErrorType, upstreamFailure } from '../../../providers/shared/upstream-errors';
import type { Completed, TargetCall } from '../../pipeline';
import type { StreamFrame } from '../../relay';
import { sseEvent } from './wire';

type AnthropicProvider = Extract<TargetCall['provider'], { kind: 'anthropic' }>;

function open(call: TargetCall, provider: AnthropicProvider, raw: Record<string, unknown>, stream: boolean): Promise<OpenResponse> {
  const headers = requestHeaders(provider, call.apiKey, stream);
  // The client's API version and beta features are its own choice (Claude Code sends several betas).
  const version = call.headers.get('anthropic-version');
  if (version) headers['anthropic-version'] = version;
  const beta = call.headers.get('anthropic-beta');
  if (beta) headers['anthropic-beta'] = beta;
  return postJson({
    provider: call.target.provider,
    url: messagesUrl(provider),
    headers,
    // max_tokens: the effective output cap (the client's, or lower under an alias or model maximum) is the one
    // admission priced, so it is the one sent.
    body: { ...raw, model: call.target.model, max_tokens: call.maxOutputTokens, stream },
    signal: call.signal,
    errorMessage: commonErrorMessage,
    apiKey: call.apiKey,
  });
}

/** Anthropic usage (input beside cache counts) → Tollgate's (input includes them). */
function usageOf(u: Record<string, unknown>): TokenUsage {
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  return { inputTokens: count(u.input_tokens) + read + write, outputTokens: count(u.output_tokens), cacheReadTokens: read, cacheWriteTokens: write, reasoningTokens: 0 };
}

export async function completeNative(call: TargetCall, provider: AnthropicProvider, raw: Record<string, unknown>): Promise<Completed> {
  const res = await open(call, provider, raw, false);
  const body = await readJson(call.target.provider, res, call.signal);
  if (!isRecord(body) || !Array.isArray(body.content)) throw malformedResponseError(call.target.provider, 'message');
  const usage = isRecord(body.usage) ? usageOf(body.usage) : undefined;
  return {
    usage,
    text: () => textOf(body.content as unknown[]),
    body: (cost) => (cost !== undefined && isRecord(body.usage) ? { ...body, usage: { ...body.usage, cost } } : body),
  };
}

function textOf(content: unknown[]): string {
  let text = '';
  for (const b of content) {
    if (!isRecord(b)) continue;
    if (typeof b.text === 'string') text += b.text;
    else if (typeof b.thinking === 'string') text += b.thinking;
    else if (b.type === 'tool_use') text += String(b.name) + JSON.stringify(b.input ?? {});
  }
  return text;
}

/** Frames for a native stream: each upstream event relayed as it came, usage merged as Anthropic defines it. */
export function streamNative(call: TargetCall, provider: AnthropicProvider, raw: Record<string, unknown>): AsyncIterator<StreamFrame> {
  return nativeFrames(call, provider, raw)[Symbol.asyncIterator]();
}

async function* nativeFrames(call: TargetCall, provider: AnthropicProvider, raw: Record<string, unknown>): AsyncGenerator<StreamFrame> {
  const id = call.target.provider;
  const res = await open(call, provider, raw, true);
  const usage: Record<string, unknown> = {};
  let stopped = false;
  for await (const events of readSse(id, res, call.signal)) {
    for (const event of events) {
      if (stopped || event.data.trim() === '') continue;
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        throw malformedResponseError(id, 'stream event', err);
      }
      if (!isRecord(data) || typeof data.type !== 'string') throw malformedResponseError(id, 'stream event');
      const type = event.event ?? data.type;
      switch (data.type) {
        case 'message_start': {
          const u = isRecord(data.message) && isRecord(data.message.usage) ? data.message.usage : {};
          Object.assign(usage, u);
          yield { bytes: relayed(type, event.data), usage: usageOf(usage) };
          break;
        }
        case 'message_delta': {
          // Cumulative: later non-null fields replace earlier ones.
          if (isRecord(data.usage)) for (const [k, v] of Object.entries(data.usage)) if (typeof v === 'number') usage[k] = v;
          const total = usageOf(usage);
          const cost = call.cost(total);
          const bytes = cost === undefined ? relayed(type, event.data) : sseEvent(type, { ...data, usage: { ...(isRecord(data.usage) ? data.usage : {}), cost } });
          yield { bytes, usage: total };
          break;
        }
        case 'content_block_delta': {
          const d = isRecord(data.delta) ? data.delta : {};
          const text = typeof d.text === 'string' ? d.text : typeof d.partial_json === 'string' ? d.partial_json : typeof d.thinking === 'string' ? d.thinking : undefined;
          yield { bytes: relayed(type, event.data), text };
          break;
        }
        case 'message_stop':
          stopped = true;
          yield { bytes: relayed(type, event.data) };
          break;
        case 'error': {
          // Relayed as the surface's own error event (same shape), with the stream recorded as failed.
          const e = isRecord(data.error) ? data.error : {};
          throw upstreamFailure({ provider: id, status: statusForErrorType(e.type), detail: typeof e.message === 'string' ? e.message : undefined, apiKey: call.apiKey, midStream: true });
        }
        default:
          yield { bytes: relayed(type, event.data) };
      }
    }
  }
  if (!stopped) throw connectionError(id, undefined, 'ended the stream before message_stop');
}

function relayed(type: string, data: string): Uint8Array {
  return Buffer.from(`event: ${type}\ndata: ${data}\n\n`, 'utf8');
}
