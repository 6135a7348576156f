/** The OpenAI-compatible adapter: transport (api.ts) + mapping (chat-complete.ts) + SSE reading. */
import type { ChatCompletion, ChatCompletionChunk } from '../../core/openai-schema';
import { commonErrorMessage, postJson, readJson, type FetchLike } from '../shared/http-transport';
import { readSse } from '../shared/sse-reader';
import { connectionError } from '../shared/upstream-errors';
import type { EmbeddingsCall, EmbeddingsResult, ProviderAdapter, ProviderCall, ResponsesCall, ResponsesUpstreamEvent } from '../types';
import { chatCompletionsUrl, maxTokensField, requestHeaders, sendsStreamOptions, type OpenAICompatibleSettings } from './api';
import { UsageCollector, parseChunk, parseCompletion, toUpstreamBody } from './chat-complete';
import { embeddingsUrl, parseEmbeddings, toEmbeddingsBody } from './embeddings';
import { TERMINAL_RESPONSE_EVENTS, parseResponseObject, parseResponsesEvent, responsesUrl } from './responses';

export interface OpenAICompatibleAdapterOptions {
  /** Injected for tests; defaults to the global fetch (undici). */
  fetch?: FetchLike;
}

export function createOpenAICompatibleAdapter(
  id: string,
  settings: OpenAICompatibleSettings,
  options: OpenAICompatibleAdapterOptions = {},
): ProviderAdapter {
  const url = chatCompletionsUrl(settings);
  const streamOptions = sendsStreamOptions(settings);

  const open = (call: ProviderCall, stream: boolean) =>
    postJson({
      provider: id,
      url,
      headers: requestHeaders(settings, call.apiKey, stream),
      body: toUpstreamBody(call.request, stream, { field: maxTokensField(settings, call.request), tokens: call.maxOutputTokens }, streamOptions),
      signal: call.signal,
      fetch: options.fetch,
      errorMessage: commonErrorMessage,
      apiKey: call.apiKey,
    });

  const openResponses = (call: ResponsesCall, stream: boolean) =>
    postJson({
      provider: id,
      url: responsesUrl(settings.baseUrl),
      headers: requestHeaders(settings, call.apiKey, stream),
      body: { ...call.body, stream },
      signal: call.signal,
      fetch: options.fetch,
      errorMessage: commonErrorMessage,
      apiKey: call.apiKey,
    });

  return {
    id,

    async chat(call: ProviderCall): Promise<ChatCompletion> {
      const response = await open(call, false);
      return parseCompletion(id, await readJson(id, response, call.signal));
    },

    async *chatStream(call: ProviderCall): AsyncGenerator<ChatCompletionChunk> {
      const response = await open(call, true);
      const usage = new UsageCollector();
      let sawFinish = false;
      let sawDone = false;
      for await (const events of readSse(id, response, call.signal)) {
        for (const event of events) {
          // Read on to the end after [DONE] rather than aborting: a cleanly ended body keeps the connection reusable.
          if (sawDone || event.data.trim() === '') continue;
          if (event.data === '[DONE]') {
            sawDone = true;
            continue;
          }
          const chunk = usage.take(parseChunk(id, event.data, call.apiKey));
          if (!chunk) continue;
          if (!sawFinish && hasFinishReason(chunk)) sawFinish = true;
          yield chunk;
        }
      }
      // Some hosts omit [DONE]; a stream that ended cleanly after a finish_reason is complete.
      if (!sawDone && !sawFinish) throw connectionError(id, undefined, 'ended the stream before it was complete');
      const final = usage.final(call.request.model);
      if (final) yield final;
    },

    async responses(call: ResponsesCall): Promise<Record<string, unknown>> {
      const response = await openResponses(call, false);
      return parseResponseObject(id, await readJson(id, response, call.signal));
    },

    async *responsesStream(call: ResponsesCall): AsyncGenerator<ResponsesUpstreamEvent> {
      const response = await openResponses(call, true);
      let terminal = false;
      for await (const events of readSse(id, response, call.signal)) {
        for (const event of events) {
          // Read on to the end after the terminal event rather than aborting: the connection stays reusable.
          if (terminal || event.data.trim() === '' || event.data === '[DONE]') continue;
          const parsed = parseResponsesEvent(id, event.data, call.apiKey);
          if (TERMINAL_RESPONSE_EVENTS.has(parsed.type)) terminal = true;
          yield parsed;
        }
      }
      if (!terminal) throw connectionError(id, undefined, 'ended the stream before response.completed');
    },

    async embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
      const response = await postJson({
        provider: id,
        url: embeddingsUrl(settings.baseUrl),
        headers: requestHeaders(settings, call.apiKey, false),
        body: toEmbeddingsBody(call),
        signal: call.signal,
        fetch: options.fetch,
        errorMessage: commonErrorMessage,
        apiKey: call.apiKey,
      });
      const expected = call.input.kind === 'text' ? call.input.texts.length : call.input.tokens.length;
      return parseEmbeddings(id, await readJson(id, response, call.signal), expected, call.model);
    },
  };
}

function hasFinishReason(chunk: ChatCompletionChunk): boolean {
  for (const choice of chunk.choices) if (choice.finish_reason != null) return true;
  return false;
}
