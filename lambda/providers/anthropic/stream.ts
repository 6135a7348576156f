/**
 * Anthropic stream events → OpenAI chunks. One translator per stream (its state never outlives the
 * request). Anthropic's `message_delta` usage is cumulative, so it replaces, never adds to, what
 * `message_start` reported.
 */
import type { ChatCompletionChunk, FinishReason } from '../../core/openai-schema';
import { finishChunk, newCompletionId, reasoningChunk, roleChunk, textChunk, thinkingBlockChunk, toolCallChunk, usageChunk, type ChunkMeta } from '../shared/chunks';
import { isRecord } from '../shared/http-transport';
import { malformedResponseError, statusForErrorType, upstreamFailure } from '../shared/upstream-errors';
import { anthropicUsage, finishReason } from './chat-complete';
import type { AnthropicStreamEvent, AnthropicUsage } from './wire-types';

export class AnthropicStreamTranslator {
  private meta: ChunkMeta;
  private usage: AnthropicUsage = {};
  private sawUsage = false;
  /** Anthropic content-block index → OpenAI tool_calls index (tool calls are numbered among themselves). */
  private readonly toolIndex = new Map<number, number>();
  private finish: FinishReason | undefined;
  private finishSent = false;
  private stopped = false;

  constructor(
    private readonly provider: string,
    created: number,
    model = '',
    /** The key this call used: redacted (with its fragments) from an `error` event's text before it is logged. */
    private readonly apiKey?: string,
  ) {
    this.meta = { id: newCompletionId(), created, model };
  }

  /** True once `message_stop` arrived: the stream is complete. */
  get complete(): boolean {
    return this.stopped;
  }

  /** One SSE `data:` payload → the chunks it produces. Throws UpstreamError on `error` events and junk. */
  translateData(data: string): ChatCompletionChunk[] {
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch (err) {
      throw malformedResponseError(this.provider, 'stream event', err);
    }
    if (!isRecord(event) || typeof event.type !== 'string') throw malformedResponseError(this.provider, 'stream event');
    return this.translate(event as AnthropicStreamEvent);
  }

  translate(event: AnthropicStreamEvent): ChatCompletionChunk[] {
    switch (event.type) {
      case 'message_start': {
        if (!isRecord(event.message)) throw malformedResponseError(this.provider, 'stream event');
        const m = event.message;
        // The upstream's JSON is not checked against its types: only non-empty strings replace the defaults.
        this.meta = { ...this.meta, id: nonEmptyString(m.id) ?? this.meta.id, model: nonEmptyString(m.model) ?? this.meta.model };
        this.mergeUsage(m.usage);
        return [roleChunk(this.meta)];
      }
      case 'content_block_start': {
        if (!isRecord(event.content_block)) throw malformedResponseError(this.provider, 'stream event');
        const block = event.content_block;
        if (block.type === 'tool_use') {
          const index = this.toolIndex.size;
          this.toolIndex.set(event.index, index);
          return [toolCallChunk(this.meta, { index, id: String(block.id), type: 'function', function: { name: String(block.name), arguments: '' } })];
        }
        if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') return [textChunk(this.meta, block.text)];
        if (block.type === 'redacted_thinking') return [thinkingBlockChunk(this.meta, { type: 'redacted_thinking', data: String(block.data ?? '') })];
        return [];
      }
      case 'content_block_delta': {
        if (!isRecord(event.delta)) throw malformedResponseError(this.provider, 'stream event');
        const delta = event.delta;
        if (delta.type === 'text_delta' && typeof delta.text === 'string') return delta.text === '' ? [] : [textChunk(this.meta, delta.text)];
        if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
          const index = this.toolIndex.get(event.index);
          if (index === undefined || delta.partial_json === '') return [];
          return [toolCallChunk(this.meta, { index, function: { arguments: delta.partial_json } })];
        }
        if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') return delta.thinking === '' ? [] : [reasoningChunk(this.meta, delta.thinking)];
        if (delta.type === 'signature_delta' && typeof delta.signature === 'string') return [thinkingBlockChunk(this.meta, { type: 'thinking', thinking: '', signature: delta.signature })];
        // citations_delta: nothing in OpenAI's chunk shape carries it.
        return [];
      }
      case 'message_delta': {
        this.mergeUsage(event.usage);
        const stop = isRecord(event.delta) ? event.delta.stop_reason : undefined;
        if (stop) this.finish = finishReason(stop);
        return this.finishChunks();
      }
      case 'message_stop': {
        this.stopped = true;
        this.finish ??= 'stop';
        const chunks = this.finishChunks();
        if (this.sawUsage) chunks.push(usageChunk(this.meta, anthropicUsage(this.usage)));
        return chunks;
      }
      case 'error': {
        const error: Record<string, unknown> = isRecord(event.error) ? event.error : {};
        throw upstreamFailure({
          provider: this.provider,
          status: statusForErrorType(error.type),
          detail: typeof error.message === 'string' ? error.message : undefined,
          apiKey: this.apiKey,
          midStream: true,
        });
      }
      default:
        // ping, content_block_stop, and event types added after this was written.
        return [];
    }
  }

  private finishChunks(): ChatCompletionChunk[] {
    if (!this.finish || this.finishSent) return [];
    this.finishSent = true;
    return [finishChunk(this.meta, this.finish)];
  }

  /** Cumulative: later non-null fields replace earlier ones. */
  private mergeUsage(u: AnthropicUsage | undefined): void {
    if (!u) return;
    this.sawUsage = true;
    for (const [key, value] of Object.entries(u) as Array<[keyof AnthropicUsage, number | null | undefined]>) {
      if (typeof value === 'number') this.usage[key] = value;
    }
  }
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
