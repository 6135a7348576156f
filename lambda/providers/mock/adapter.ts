/**
 * The `mock` provider: an in-process upstream with no network and no key, for trying Tollgate without
 * provider accounts (`npm run demo`) and for load-testing a deployed stack (budgets, alarms, dashboards)
 * without paying a provider. Answers are deterministic in the request; time to first token, tokens per
 * second and answer length are configured; usage is reported like a real provider's (input counted with
 * the o200k estimator, output one token per word), and the target is priced as the real model named by
 * the provider's `priceAs` (see config.ts).
 */
import type { ChatCompletion, ChatCompletionChunk } from '../../core/openai-schema';
import { UpstreamError } from '../../core/errors';
import { estimateInputTokens } from '../../core/token-estimate';
import { toOpenAIUsage } from '../../core/usage';
import { finishChunk, newCompletionId, roleChunk, textChunk, unixSeconds, usageChunk, type ChunkMeta } from '../shared/chunks';
import type { ProviderAdapter, ProviderCall } from '../types';
import { mockAnswer, mockFails } from './answer';

export interface MockSettings {
  ttftMs: number;
  tokensPerSecond: number;
  answerTokens: number;
  /** Share of requests (0-1, chosen by the request's hash) answered with a 503, which routing falls back on. */
  errorRate: number;
}

export interface MockAdapterOptions {
  now?: () => number;
  /** Waits `ms` or rejects with the signal's reason; injected by tests to run without real time. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function createMockAdapter(id: string, settings: MockSettings, options: MockAdapterOptions = {}): ProviderAdapter {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const perTokenMs = settings.tokensPerSecond > 0 ? 1_000 / settings.tokensPerSecond : 0;

  const begin = async (call: ProviderCall) => {
    await sleep(settings.ttftMs, call.signal);
    if (mockFails(call.request, settings.errorRate)) {
      throw new UpstreamError(id, `Provider '${id}' (mock) answered 503 for this request (errorRate ${settings.errorRate}).`, { upstreamStatus: 503 });
    }
    const answer = mockAnswer(call.request, settings.answerTokens, call.maxOutputTokens);
    const usage = toOpenAIUsage({
      inputTokens: estimateInputTokens(call.request),
      outputTokens: answer.tokens.length,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
    const meta: ChunkMeta = { id: newCompletionId(), created: unixSeconds(now()), model: call.request.model };
    return { answer, usage, meta };
  };

  return {
    id,

    async chat(call: ProviderCall): Promise<ChatCompletion> {
      const { answer, usage, meta } = await begin(call);
      await sleep(perTokenMs * answer.tokens.length, call.signal);
      return {
        id: meta.id,
        object: 'chat.completion',
        created: meta.created,
        model: meta.model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.tokens.join('') }, finish_reason: answer.finishReason }],
        usage,
      };
    },

    async *chatStream(call: ProviderCall): AsyncGenerator<ChatCompletionChunk> {
      const { answer, usage, meta } = await begin(call);
      yield roleChunk(meta);
      for (const token of answer.tokens) {
        await sleep(perTokenMs, call.signal);
        yield textChunk(meta, token);
      }
      yield finishChunk(meta, answer.finishReason);
      yield usageChunk(meta, usage);
    },
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
