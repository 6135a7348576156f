/**
 * ConverseStream events → OpenAI chunks. One translator per stream. Bedrock sends `messageStop` (with
 * the stop reason) before `metadata` (with usage), so the usage chunk is emitted when metadata arrives
 * and the stream is complete only after both.
 */
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import type { ChatCompletionChunk } from '../../core/openai-schema';
import { finishChunk, newCompletionId, reasoningChunk, roleChunk, textChunk, thinkingBlockChunk, toolCallChunk, usageChunk, type ChunkMeta } from '../shared/chunks';
import { converseUsage, finishReason } from './converse';
import { streamExceptionError } from './errors';

const EXCEPTION_MEMBERS = [
  'internalServerException',
  'modelStreamErrorException',
  'validationException',
  'throttlingException',
  'serviceUnavailableException',
] as const;

export class ConverseStreamTranslator {
  private readonly meta: ChunkMeta;
  /** contentBlockIndex → OpenAI tool_calls index. */
  private readonly toolIndex = new Map<number, number>();
  private stopped = false;
  private sawMetadata = false;
  private sawEvent = false;

  constructor(
    private readonly provider: string,
    model: string,
    created: number,
  ) {
    this.meta = { id: newCompletionId(), created, model };
  }

  /** An event arrived: a failure from here on is mid-stream. */
  get started(): boolean {
    return this.sawEvent;
  }

  /** messageStop arrived (metadata may still follow). */
  get stoppedMessage(): boolean {
    return this.stopped;
  }

  get complete(): boolean {
    return this.stopped && this.sawMetadata;
  }

  translate(event: ConverseStreamOutput): ChatCompletionChunk[] {
    this.sawEvent = true;
    if (event.messageStart) return [roleChunk(this.meta)];
    if (event.contentBlockStart) {
      const toolUse = event.contentBlockStart.start?.toolUse;
      if (!toolUse) return [];
      const index = this.toolIndex.size;
      this.toolIndex.set(event.contentBlockStart.contentBlockIndex ?? index, index);
      return [toolCallChunk(this.meta, { index, id: stringOr(toolUse.toolUseId), type: 'function', function: { name: stringOr(toolUse.name), arguments: '' } })];
    }
    if (event.contentBlockDelta) {
      const delta = event.contentBlockDelta.delta;
      // The SDK does not check the event's JSON against its types: a field of the wrong type is skipped, never relayed.
      if (delta?.text !== undefined) return stringOr(delta.text) === '' ? [] : [textChunk(this.meta, delta.text)];
      if (delta?.toolUse) {
        const index = this.toolIndex.get(event.contentBlockDelta.contentBlockIndex ?? -1);
        const args = stringOr(delta.toolUse.input);
        if (index === undefined || args === '') return [];
        return [toolCallChunk(this.meta, { index, function: { arguments: args } })];
      }
      const reasoning = delta?.reasoningContent;
      if (reasoning) {
        if (reasoning.text !== undefined) return stringOr(reasoning.text) === '' ? [] : [reasoningChunk(this.meta, reasoning.text)];
        if (reasoning.signature !== undefined) return typeof reasoning.signature === 'string' ? [thinkingBlockChunk(this.meta, { type: 'thinking', thinking: '', signature: reasoning.signature })] : [];
        if (reasoning.redactedContent !== undefined) return [thinkingBlockChunk(this.meta, { type: 'redacted_thinking', data: Buffer.from(reasoning.redactedContent).toString('base64') })];
      }
      // citations: nothing in OpenAI's chunk shape carries them.
      return [];
    }
    if (event.messageStop) {
      this.stopped = true;
      return [finishChunk(this.meta, finishReason(event.messageStop.stopReason))];
    }
    if (event.metadata) {
      this.sawMetadata = true;
      const usage = converseUsage(event.metadata.usage);
      return usage ? [usageChunk(this.meta, usage)] : [];
    }
    for (const member of EXCEPTION_MEMBERS) {
      const body = event[member];
      if (body) throw streamExceptionError(this.provider, member, body);
    }
    // contentBlockStop and members added after this was written.
    return [];
  }
}

/** `value` when the upstream sent a string there, else '' (nothing to relay). */
function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
