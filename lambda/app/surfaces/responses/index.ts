/**
 * POST /v1/responses (stateless): the OpenAI Responses API on the shared pipeline. Two provider mappings:
 * - native (native.ts): openai-compatible providers configured with `responsesApi: true` get the request
 *   as is (upstream model, the priced output cap, `store: false`), and their events are relayed unchanged,
 *   usage read from the terminal event;
 * - translated (every other target): Responses → chat completions (to-chat.ts), which every adapter
 *   speaks, and chat → Response / Responses events back (from-chat.ts, stream.ts).
 * Errors use OpenAI's error body; after the first byte, an `error` event.
 */
import type { GatewayError } from '../../../core/errors';
import type { ChatCompletionChunk } from '../../../core/openai-schema';
import { estimateInputTokens, estimateTokens } from '../../../core/token-estimate';
import { fromOpenAIUsage } from '../../../core/usage';
import { unixSeconds } from '../../../providers/shared/chunks';
import type { ChatRequestPlan } from '../../../providers/types';
import { defineSurface, type TargetCall, type TargetPlan } from '../../pipeline';
import { mapFrames, type StreamFrame } from '../../relay';
import { chatToResponse, randomIds, responseShell } from './from-chat';
import { checkNative, isNative, nativeComplete, nativeStream } from './native';
import { validateResponsesRequest, type ResponsesRequest } from './schema';
import { ChatToResponsesStream, errorEventBody, ResponseSequence, responsesSse } from './stream';
import { responsesToChat } from './to-chat';
import type { OutputItem, ResponsesStreamEvent } from './wire-types';

/** The validated request and, for a stream, its response id and event counter (one per request). */
interface ResponsesExchange {
  body: ResponsesRequest;
  sequence: ResponseSequence;
}

export const responses = defineSurface<ResponsesExchange>({
  name: 'responses',
  paths: ['/v1/responses'],
  kinds: 'any',
  parse: (raw) => ({ body: validateResponsesRequest(raw), sequence: new ResponseSequence(randomIds('resp'), unixSeconds()) }),
  describe: ({ body }) => ({
    model: body.model,
    stream: body.stream === true,
    estimate: { inputTokens: estimateResponsesInput(body), maxOutputTokens: body.max_output_tokens ?? undefined, n: 1 },
    hints: { metadata: body.metadata, user: body.user ?? body.safety_identifier },
  }),
  promptText: ({ body }) => promptText(body),
  check: ({ body }, plan) => {
    if (isNative(plan)) return checkNative(plan);
    // The translation refuses for every adapter, one without checks of its own included: always run it.
    const request = chatRequest(body, plan);
    plan.adapter.checkChat?.(request);
  },
  complete: ({ body }, call) => (isNative(call) ? nativeComplete(body, call) : translatedComplete(body, call)),
  // As OpenAI does: the client has response.created and response.in_progress as soon as the request is
  // admitted, before any target answered (the model named is the alias; the final response names the upstream's).
  streamPrelude: ({ body, sequence }) => responsesSse(new ChatToResponsesStream(responseShell(body, sequence.id, sequence.createdAt, body.model), randomIds, sequence).start()),
  openStream: ({ body, sequence }, call) => (isNative(call) ? nativeStream(body, call, sequence) : translatedStream(body, call, sequence)),
  errorBody: (error: GatewayError) => error.toBody(),
  streamError: (error: GatewayError, exchange) => {
    const event: ResponsesStreamEvent = { ...errorEventBody(error), sequence_number: exchange.sequence.next() };
    return responsesSse([event]);
  },
});

/** As the chat estimator counts the translated prompt; a request only a native upstream can take counts as its JSON. */
function estimateResponsesInput(req: ResponsesRequest): number {
  try {
    return estimateInputTokens(responsesToChat('estimate', req));
  } catch {
    return estimateTokens(JSON.stringify([req.instructions ?? '', req.input, req.tools ?? [], req.text ?? {}]));
  }
}

function promptText(req: ResponsesRequest): string {
  const input = typeof req.input === 'string' ? req.input : JSON.stringify(req.input);
  return req.instructions ? `instructions: ${req.instructions}\n${input}` : input;
}

export function outputText(output: ReadonlyArray<OutputItem>): string {
  let text = '';
  for (const item of output) {
    if (item.type === 'function_call') text += item.name + item.arguments;
    else for (const part of item.content) text += part.type === 'output_text' ? part.text : part.refusal;
  }
  return text;
}

/** What one chunk adds to the answer (content log, and the estimate when no usage arrives). */
function chunkText(chunk: ChatCompletionChunk): string {
  // Tolerate a choice without `delta` (seen from loose OpenAI-compatible hosts).
  const delta = chunk.choices[0]?.delta as ChatCompletionChunk['choices'][number]['delta'] | undefined;
  let text = (delta?.content ?? '') + (delta?.refusal ?? '');
  for (const call of delta?.tool_calls ?? []) text += (call.function?.name ?? '') + (call.function?.arguments ?? '');
  return text;
}

function chatRequest(req: ResponsesRequest, plan: TargetPlan): ChatRequestPlan {
  return { request: responsesToChat(plan.target.provider, req, plan.target.model), maxOutputTokens: plan.maxOutputTokens };
}

function chatCall(req: ResponsesRequest, call: TargetCall) {
  return { ...chatRequest(req, call), signal: call.signal, apiKey: call.apiKey };
}

async function translatedComplete(req: ResponsesRequest, call: TargetCall) {
  const completion = await call.adapter.chat(chatCall(req, call));
  const response = chatToResponse(req, completion, unixSeconds());
  const usage = fromOpenAIUsage(completion.usage);
  return {
    usage,
    text: () => outputText(response.output),
    body: (cost: number | undefined) => (response.usage && cost !== undefined ? { ...response, usage: { ...response.usage, cost } } : response),
  };
}

/** The opening events went out at admission (streamPrelude): this continues the same response and numbering. */
function translatedStream(req: ResponsesRequest, call: TargetCall, sequence: ResponseSequence): AsyncIterator<StreamFrame> {
  const chunks = call.adapter.chatStream(chatCall(req, call))[Symbol.asyncIterator]();
  const builder = new ChatToResponsesStream(responseShell(req, sequence.id, sequence.createdAt, call.target.model), randomIds, sequence);
  return mapFrames(
    chunks,
    (chunk): StreamFrame => {
      const events = builder.chunk(chunk);
      return { bytes: events.length > 0 ? responsesSse(events) : undefined, usage: builder.usage, text: chunkText(chunk) };
    },
    () => ({ bytes: responsesSse(builder.end((u) => call.cost(u))), usage: builder.usage, final: true }),
  );
}
