/**
 * The native mapping: providers configured with `responsesApi: true` get the client's request (upstream
 * model, the output cap that was priced, `store: false`: OpenAI stores responses unless told not to, and
 * Tollgate promises no state) and their answer is relayed as is; usage comes from the Response object or
 * the stream's terminal event, and `usage.cost` is added there.
 */
import { UnsupportedParameterError } from '../../../core/errors';
import { isRecord } from '../../../providers/shared/http-transport';
import { TERMINAL_RESPONSE_EVENTS } from '../../../providers/openai-compatible/responses';
import type { ResponsesCall, ResponsesUpstreamEvent } from '../../../providers/types';
import type { TargetCall, TargetPlan } from '../../pipeline';
import { mapFrames, type StreamFrame } from '../../relay';
import { fromResponsesUsage } from './from-chat';
import type { ResponsesRequest } from './schema';
import type { ResponseSequence } from './stream';
import type { OutputItem } from './wire-types';

const encoder = new TextEncoder();

export function isNative(plan: TargetPlan): boolean {
  return plan.provider.kind === 'openai-compatible' && plan.provider.responsesApi === true;
}

/** The native mapping's one refusal before a call: an adapter without the Responses API. */
export function checkNative(plan: TargetPlan): void {
  adapterOf(plan);
}

function nativeCall(req: ResponsesRequest, call: TargetCall): ResponsesCall {
  return { body: { ...req, model: call.target.model, max_output_tokens: call.maxOutputTokens, store: false }, signal: call.signal, apiKey: call.apiKey };
}

function adapterOf(plan: TargetPlan) {
  const { responses, responsesStream } = plan.adapter;
  if (!responses || !responsesStream) throw new UnsupportedParameterError(plan.target.provider, 'model', 'this provider has no native Responses API');
  return { responses: responses.bind(plan.adapter), responsesStream: responsesStream.bind(plan.adapter) };
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

/** Sent at admission by the surface (streamPrelude), so the upstream's own are dropped. */
const OPENING_EVENTS = new Set(['response.created', 'response.in_progress']);

/**
 * The upstream's events, renumbered to follow the opening events the client already has (and carrying
 * that response's id, the one the client saw first); the terminal one gets `usage.cost`.
 */
export function nativeStream(req: ResponsesRequest, call: TargetCall, sequence: ResponseSequence): AsyncIterator<StreamFrame> {
  const events = adapterOf(call).responsesStream(nativeCall(req, call))[Symbol.asyncIterator]();
  const frame = (type: string, data: Record<string, unknown>) => encoder.encode(`event: ${type}\ndata: ${JSON.stringify({ ...data, sequence_number: sequence.next() })}\n\n`);
  return mapFrames(events, (event: ResponsesUpstreamEvent): StreamFrame => {
    if (OPENING_EVENTS.has(event.type)) return {};
    if (!TERMINAL_RESPONSE_EVENTS.has(event.type)) {
      const delta = event.type === 'response.output_text.delta' || event.type === 'response.function_call_arguments.delta' ? event.parsed.delta : undefined;
      return { bytes: frame(event.type, event.parsed), text: typeof delta === 'string' ? delta : undefined };
    }
    const response: Record<string, unknown> = { ...(isRecord(event.parsed.response) ? event.parsed.response : {}), id: sequence.id };
    const usage = fromResponsesUsage(response.usage);
    return { bytes: frame(event.type, { ...event.parsed, response: usage ? withCost(response, call.cost(usage)) : response }), usage, final: true };
  });
}
