/**
 * Chat completion (and its stream) → Anthropic message (and its events), for answers from targets reached
 * through the chat adapters. One translator per stream. The message_delta with the final usage (and its
 * cost) is written after the last chunk, since chat upstreams report usage in their last chunk.
 */
import type { ChatCompletion, ChatCompletionChunk, FinishReason } from '../../../core/openai-schema';
import { fromOpenAIUsage, type TokenUsage } from '../../../core/usage';
import type { StreamFrame } from '../../relay';
import { newMessageId, sseEvent, stopReason, toAnthropicUsage, type AnthropicMessageOut, type ResponseBlock } from './wire';

export function fromChatCompletion(c: ChatCompletion, model: string, cost: number | undefined): AnthropicMessageOut {
  const choice = c.choices[0];
  // Thinking first, as Anthropic orders a message's blocks.
  const content: ResponseBlock[] = [...(choice?.message?.thinking_blocks ?? [])];
  const text = typeof choice?.message?.content === 'string' ? choice.message.content : '';
  if (text !== '') content.push({ type: 'text', text });
  for (const call of choice?.message?.tool_calls ?? []) content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseInput(call.function.arguments) });
  return {
    id: newMessageId(),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: toAnthropicUsage(fromOpenAIUsage(c.usage), cost),
  };
}

function parseInput(args: string): unknown {
  try {
    return args.trim() === '' ? {} : (JSON.parse(args) as unknown);
  } catch {
    // A model that wrote broken JSON: hand it over as text rather than lose it.
    return { _raw: args };
  }
}

type OpenBlock = { kind: 'text' | 'thinking' | 'redacted'; index: number } | { kind: 'tool'; index: number; toolIndex: number };

export class ChatToMessagesStream {
  private started = false;
  private nextIndex = 0;
  private open: OpenBlock | undefined;
  private finish: FinishReason | null = null;
  private usage: TokenUsage | undefined;
  private readonly id = newMessageId();

  constructor(
    private readonly model: string,
    private readonly cost: (usage: TokenUsage) => number | undefined,
  ) {}

  frame(chunk: ChatCompletionChunk): StreamFrame {
    const out: Uint8Array[] = [];
    let text = '';
    if (!this.started) out.push(this.messageStart());
    if (chunk.usage) this.usage = fromOpenAIUsage(chunk.usage);
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const delta = choice.delta as typeof choice.delta | undefined;
      if (delta?.reasoning_content) {
        text += delta.reasoning_content;
        out.push(...this.thinkingBlock());
        out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'thinking_delta', thinking: delta.reasoning_content } }));
      }
      for (const block of delta?.thinking_blocks ?? []) {
        if (block.type === 'redacted_thinking') {
          out.push(...this.startBlock(block, { kind: 'redacted', index: this.nextIndex }));
          continue;
        }
        out.push(...this.thinkingBlock());
        if (block.thinking) out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'thinking_delta', thinking: block.thinking } }));
        if (block.signature) out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'signature_delta', signature: block.signature } }));
      }
      if (delta?.content) {
        text += delta.content;
        if (this.open?.kind !== 'text') out.push(...this.startBlock({ type: 'text', text: '' }, { kind: 'text', index: this.nextIndex }));
        out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'text_delta', text: delta.content } }));
      }
      for (const call of delta?.tool_calls ?? []) {
        const isNew = this.open?.kind !== 'tool' || this.open.toolIndex !== call.index;
        if (isNew) {
          out.push(...this.startBlock({ type: 'tool_use', id: call.id ?? `toolu_${call.index}`, name: call.function?.name ?? '', input: {} }, { kind: 'tool', index: this.nextIndex, toolIndex: call.index }));
        }
        const args = call.function?.arguments ?? '';
        text += (isNew ? (call.function?.name ?? '') : '') + args;
        if (args !== '') out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'input_json_delta', partial_json: args } }));
      }
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
    return { bytes: out.length > 0 ? Buffer.concat(out) : undefined, usage: this.usage, text };
  }

  /** After the last chunk: close the open block, the final usage (with cost), message_stop. */
  end(): StreamFrame {
    const out: Uint8Array[] = [];
    if (!this.started) out.push(this.messageStart());
    if (this.open) out.push(sseEvent('content_block_stop', { type: 'content_block_stop', index: this.open.index }));
    this.open = undefined;
    const cost = this.usage ? this.cost(this.usage) : undefined;
    out.push(sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason(this.finish), stop_sequence: null }, usage: toAnthropicUsage(this.usage, cost) }));
    out.push(sseEvent('message_stop', { type: 'message_stop' }));
    return { bytes: Buffer.concat(out), final: true };
  }

  private messageStart(): Uint8Array {
    this.started = true;
    const message: AnthropicMessageOut = { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: toAnthropicUsage(undefined) };
    return sseEvent('message_start', { type: 'message_start', message });
  }

  /** The open thinking block, started (empty, as Anthropic starts one) if another block is open. */
  private thinkingBlock(): Uint8Array[] {
    if (this.open?.kind === 'thinking') return [];
    return this.startBlock({ type: 'thinking', thinking: '', signature: '' }, { kind: 'thinking', index: this.nextIndex });
  }

  private startBlock(block: ResponseBlock, open: OpenBlock): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.open) out.push(sseEvent('content_block_stop', { type: 'content_block_stop', index: this.open.index }));
    this.open = open;
    this.nextIndex++;
    out.push(sseEvent('content_block_start', { type: 'content_block_start', index: open.index, content_block: block }));
    return out;
  }
}
