/** Small helpers for driving adapters in integration tests. */
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import type { ProviderCall } from '../../../lambda/providers/types';

export async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

export function streamedText(chunks: ChatCompletionChunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

/** Reassembles streamed tool-call deltas the way OpenAI clients do (by index). */
export function streamedToolCalls(chunks: ChatCompletionChunk[]): Array<{ id?: string; name: string; arguments: string }> {
  const calls: Array<{ id?: string; name: string; arguments: string }> = [];
  for (const chunk of chunks) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
      const call = (calls[delta.index] ??= { name: '', arguments: '' });
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.arguments += delta.function.arguments;
    }
  }
  return calls;
}

export function call(request: Partial<ChatCompletionRequest> & { model: string }, extra: Partial<ProviderCall> = {}): ProviderCall {
  return {
    request: { messages: [{ role: 'user', content: 'Say hello' }], ...request },
    signal: extra.signal ?? new AbortController().signal,
    maxOutputTokens: extra.maxOutputTokens ?? request.max_completion_tokens ?? request.max_tokens ?? 4_096,
    ...extra,
  };
}

/** Rejects with whatever the promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
