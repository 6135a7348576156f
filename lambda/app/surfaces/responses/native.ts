/**
 * The native mapping: providers configured with `responsesApi: true` get the client's request (upstream
 * model, the output cap that was priced, `store: false`: OpenAI stores responses unless told not to, and
 * Tollgate promises no state) and their answer is relayed as is; usage comes from the Response object or
 * the stream's terminal event, and `usage.cost` is added there.
 */
import { UnsupportedParameterError } from '../../../core/errors';
import type { TokenUsage } from '../../../core/usage';
import { isRecord } from '../../../providers/shared/http-transport';
import { TERMINAL_RESPONSE_EVENTS } from '../../../providers/openai-compatible/responses';
import type { ResponsesCall, ResponsesUpstreamEvent } from '../../../providers/types';
import type { TargetCall } from '../../pipeline';
import { mapFrames, type StreamFrame } from '../../relay';
import { fromResponsesUsage } from './from-chat';
import type { ResponsesRequest } from './schema';
import type { OutputItem } from './wire-types';

const encoder = new TextEncoder();

export function isNative(call: TargetCall): boolean {
  return call.provider.kind === 'openai-compatible' && call.provider.responsesApi === true;
}

function nativeCall(req: ResponsesRequest, call: TargetCall): ResponsesCall {
  return { body: { ...req, model: call.target.model, max_output_tokens: call.maxOutputTokens, store: false }, signal: call.signal, apiKey: call.apiKey };
}

function adapterOf(call: TargetCall) {
  const { responses, responsesStream } = call.adapter;
  if (!responses || !responsesStream) throw new UnsupportedParameterError(call.target.provider, 'model', 'this provider has no native Responses API');
  return { responses: responses.bind(call.adapter), responsesStream: responsesStream.bind(call.adapter) };
}

function withCost(response: Record<string, unknown>, cost: number | undefined): Record<string, unknown> {
  if (cost === undefined || !isRecord(response.usage)) return response;
  return { ...response, usage: { ...response.usage, cost } };
}

function itemsText(output: unknown): string {
  if (!Array.isArray(output)) return '';
  let text = '';
  for (const item of output as OutputItem[]) {
    if (!isRecord(item)) continue;
    if (item.type === 'function_call') text += `${String(item.name)}${String(item.arguments)}`;
    else if (item.type === 'message' && Array.isArray(item.content)) for (const part of item.content) if (part.type === 'output_text') text += part.text;
  }
  return text;
}

export async function nativeComplete(req: ResponsesRequest, call: TargetCall) {
  const response = await adapterOf(call).responses(nativeCall(req, call));
  return {
    usage: fromResponsesUsage(response.usage),
    text: () => itemsText(response.output),
    body: (cost: number | undefined) => withCost(response, cost),
  };
}

export function nativeStream(req: ResponsesRequest, call: TargetCall): AsyncIterator<StreamFrame> {
  const events = adapterOf(call).responsesStream(nativeCall(req, call))[Symbol.asyncIterator]();
  let usage: TokenUsage | undefined;
  return mapFrames(events, (event: ResponsesUpstreamEvent): StreamFrame => {
    if (!TERMINAL_RESPONSE_EVENTS.has(event.type)) {
      const delta = event.type === 'response.output_text.delta' || event.type === 'response.function_call_arguments.delta' ? event.parsed.delta : undefined;
      return { bytes: encoder.encode(`event: ${event.type}\ndata: ${event.data}\n\n`), text: typeof delta === 'string' ? delta : undefined };
    }
    const response = isRecord(event.parsed.response) ? event.parsed.response : {};
    usage = fromResponsesUsage(response.usage);
    const data = usage ? JSON.stringify({ ...event.parsed, response: withCost(response, call.cost(usage)) }) : event.data;
    return { bytes: encoder.encode(`event: ${event.type}\ndata: ${data}\n\n`), usage, final: true };
  });
}
