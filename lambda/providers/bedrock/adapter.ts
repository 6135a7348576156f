/** The Bedrock adapter: Converse and ConverseStream through the AWS SDK (client.ts), mapping in converse.ts and stream.ts. */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { ChatCompletion, ChatCompletionChunk } from '../../core/openai-schema';
import { linkedAbortController } from '../shared/abort';
import { unixSeconds } from '../shared/chunks';
import { connectionError } from '../shared/upstream-errors';
import type { ChatRequestPlan, EmbeddingsCall, EmbeddingsPlan, EmbeddingsResult, ProviderAdapter, ProviderCall } from '../types';
import { createBedrockClient, type BedrockClientOptions, type BedrockSettings } from './client';
import { fromConverseResponse, toConverseInput } from './converse';
import { bedrockEmbed, checkBedrockEmbed } from './embeddings';
import { bedrockError } from './errors';
import { bedrockSdk } from './sdk';
import { ConverseStreamTranslator } from './stream';

export interface BedrockAdapterOptions extends BedrockClientOptions {
  /** A ready client (tests, or sharing one client between providers); built from settings otherwise. */
  client?: BedrockRuntimeClient;
  now?: () => number;
}

export interface BedrockAdapter extends ProviderAdapter {
  readonly client: BedrockRuntimeClient;
}

export function createBedrockAdapter(id: string, settings: BedrockSettings, options: BedrockAdapterOptions = {}): BedrockAdapter {
  // Built on the first call (sdk.ts: the SDK is not initialised at cold start for a container that never calls Bedrock).
  let built = options.client;
  const sdkClient = (): BedrockRuntimeClient => (built ??= createBedrockClient(settings, options));
  const now = options.now ?? Date.now;

  return {
    id,
    get client() {
      return sdkClient();
    },

    async chat(call: ProviderCall): Promise<ChatCompletion> {
      const input = toConverseInput(id, call.request, call.maxOutputTokens, call.thinking);
      try {
        const res = await sdkClient().send(new (bedrockSdk().ConverseCommand)(input), { abortSignal: call.signal });
        return fromConverseResponse(id, call.request.model, res, unixSeconds(now()));
      } catch (err) {
        throw bedrockError(id, err, call.signal);
      }
    },

    checkChat(plan: ChatRequestPlan): void {
      toConverseInput(id, plan.request, plan.maxOutputTokens, plan.thinking);
    },

    async *chatStream(call: ProviderCall): AsyncGenerator<ChatCompletionChunk> {
      const input = toConverseInput(id, call.request, call.maxOutputTokens, call.thinking);
      // Our own controller too, so leaving early (return()) tears the HTTP request down.
      const controller = linkedAbortController(call.signal);
      const signal = controller.signal;
      const translator = new ConverseStreamTranslator(id, call.request.model, unixSeconds(now()));
      let finished = false;
      try {
        const res = await sdkClient().send(new (bedrockSdk().ConverseStreamCommand)(input), { abortSignal: signal });
        if (!res.stream) throw connectionError(id, undefined, 'returned no event stream');
        for await (const event of res.stream) {
          if (translator.complete) continue;
          yield* translator.translate(event);
        }
        // A stream cut after messageStop but before metadata lost only usage; before messageStop it is broken.
        if (!translator.stoppedMessage) throw connectionError(id, undefined, 'ended the stream before messageStop');
        finished = true;
      } catch (err) {
        finished = true;
        throw bedrockError(id, err, call.signal, translator.started);
      } finally {
        if (!finished) controller.abort();
      }
    },

    embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
      return bedrockEmbed(id, sdkClient(), call);
    },

    checkEmbed(plan: EmbeddingsPlan): void {
      checkBedrockEmbed(id, plan);
    },
  };
}
