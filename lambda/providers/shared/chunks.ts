/** Building OpenAI-shaped chunks and completions from any provider's events. */
import { randomUUID } from 'node:crypto';
import type { ChatCompletionChunk, FinishReason, ThinkingBlock, ToolCallDelta, Usage } from '../../core/openai-schema';

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

function deltaChunk(meta: ChunkMeta, delta: Delta, finishReason: FinishReason | null = null): ChatCompletionChunk {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

export function roleChunk(meta: ChunkMeta): ChatCompletionChunk {
  return deltaChunk(meta, { role: 'assistant', content: '' });
}

export function textChunk(meta: ChunkMeta, text: string): ChatCompletionChunk {
  return deltaChunk(meta, { content: text });
}

/** A piece of the model's thinking text (`reasoning_content`, as DeepSeek and LiteLLM stream it). */
export function reasoningChunk(meta: ChunkMeta, text: string): ChatCompletionChunk {
  return deltaChunk(meta, { reasoning_content: text });
}

/** A thinking block's closing signature (a `thinking` block with empty text) or a whole redacted block. */
export function thinkingBlockChunk(meta: ChunkMeta, block: ThinkingBlock): ChatCompletionChunk {
  return deltaChunk(meta, { thinking_blocks: [block] });
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

/**
 * The upstream's own JSON text of a chunk the gateway relays unchanged (OpenAI-compatible hosts), so the
 * relay can forward it instead of serialising the parsed object again. Keyed by the parsed object: any
 * copy (e.g. with usage stripped) is a new object without an entry and is serialised as usual. Chunks
 * must not be mutated in place once registered.
 */
const rawJsonByChunk = new WeakMap<ChatCompletionChunk, string>();

/** Registers `json` as the wire form of `chunk` (not when it spans lines, which an SSE `data:` line cannot). */
export function withRawJson(chunk: ChatCompletionChunk, json: string): ChatCompletionChunk {
  if (json.indexOf('\n') === -1 && json.indexOf('\r') === -1) rawJsonByChunk.set(chunk, json);
  return chunk;
}

/** The upstream JSON text registered for exactly this chunk object, if any. */
export function rawJsonOf(chunk: ChatCompletionChunk): string | undefined {
  return rawJsonByChunk.get(chunk);
}
