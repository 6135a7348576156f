/** Building OpenAI-shaped chunks and completions from any provider's events. */
import { randomUUID } from 'node:crypto';
import type { ChatCompletionChunk, FinishReason, ToolCallDelta, Usage } from '../../core/openai-schema';

export interface ChunkMeta {
  id: string;
  created: number;
  model: string;
}

export function newCompletionId(): string {
  return `chatcmpl-${randomUUID().replace(/-/g, '')}`;
}

export function unixSeconds(nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 1000);
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

export function deltaChunk(meta: ChunkMeta, delta: Delta, finishReason: FinishReason | null = null): ChatCompletionChunk {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

export function roleChunk(meta: ChunkMeta): ChatCompletionChunk {
  return deltaChunk(meta, { role: 'assistant', content: '' });
}

export function textChunk(meta: ChunkMeta, text: string): ChatCompletionChunk {
  return deltaChunk(meta, { content: text });
}

export function toolCallChunk(meta: ChunkMeta, call: ToolCallDelta): ChatCompletionChunk {
  return deltaChunk(meta, { tool_calls: [call] });
}

export function finishChunk(meta: ChunkMeta, reason: FinishReason): ChatCompletionChunk {
  return deltaChunk(meta, {}, reason);
}

/** The final usage-only chunk, as OpenAI sends it with `stream_options.include_usage`. */
export function usageChunk(meta: ChunkMeta, usage: Usage): ChatCompletionChunk {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [], usage };
}
