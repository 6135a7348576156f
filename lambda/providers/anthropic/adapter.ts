/** The Anthropic Messages adapter: transport (api.ts) + mapping (chat-complete.ts) + stream translation (stream.ts). */
import type { ChatCompletion, ChatCompletionChunk } from '../../core/openai-schema';
import { unixSeconds } from '../shared/chunks';
import { commonErrorMessage, postJson, readJson, type FetchLike } from '../shared/http-transport';
import { readSse } from '../shared/sse-reader';
import { connectionError } from '../shared/upstream-errors';
import type { ChatRequestPlan, ProviderAdapter, ProviderCall } from '../types';
import { messagesUrl, requestHeaders, type AnthropicSettings } from './api';
import { fromAnthropicResponse, toAnthropicRequest } from './chat-complete';
import { AnthropicStreamTranslator } from './stream';

export interface AnthropicAdapterOptions {
  fetch?: FetchLike;
  now?: () => number;
}

export function createAnthropicAdapter(id: string, settings: AnthropicSettings, options: AnthropicAdapterOptions = {}): ProviderAdapter {
  const url = messagesUrl(settings);
  const now = options.now ?? Date.now;

  const open = (call: ProviderCall, stream: boolean) => {
    // Mapping first: a field Anthropic cannot honour fails before any network call.
    const body = toAnthropicRequest(id, call.request, { stream, maxOutputTokens: call.maxOutputTokens });
    return postJson({
      provider: id,
      url,
      headers: requestHeaders(settings, call.apiKey, stream),
      body,
      signal: call.signal,
      fetch: options.fetch,
      errorMessage: commonErrorMessage,
      apiKey: call.apiKey,
    });
  };

  return {
    id,

    async chat(call: ProviderCall): Promise<ChatCompletion> {
      const response = await open(call, false);
      return fromAnthropicResponse(id, await readJson(id, response, call.signal), unixSeconds(now()));
    },

    checkChat(plan: ChatRequestPlan): void {
      toAnthropicRequest(id, plan.request, { stream: false, maxOutputTokens: plan.maxOutputTokens });
    },

    async *chatStream(call: ProviderCall): AsyncGenerator<ChatCompletionChunk> {
      const response = await open(call, true);
      const translator = new AnthropicStreamTranslator(id, unixSeconds(now()), call.request.model, call.apiKey);
      for await (const events of readSse(id, response, call.signal)) {
        for (const event of events) {
          if (translator.complete || event.data.trim() === '') continue;
          for (const chunk of translator.translateData(event.data)) yield chunk;
        }
      }
      if (!translator.complete) throw connectionError(id, undefined, 'ended the stream before message_stop');
    },
  };
}
