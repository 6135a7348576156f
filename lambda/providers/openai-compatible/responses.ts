/**
 * OpenAI's Responses API relayed natively (`POST {baseUrl}/responses`) for hosts configured with
 * `responsesApi`. The body is the client's (the surface sets the upstream model and output cap); what
 * comes back is checked only as far as metering needs: a Response object, or a stream of typed events that
 * ends with a terminal one.
 */
import { isRecord } from '../shared/http-transport';
import { malformedResponseError, statusForErrorType, upstreamFailure } from '../shared/upstream-errors';
import type { ResponsesUpstreamEvent } from '../types';

export const TERMINAL_RESPONSE_EVENTS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export function responsesUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/responses`;
}

export function parseResponseObject(provider: string, body: unknown): Record<string, unknown> {
  if (!isRecord(body) || body.object !== 'response' || !Array.isArray(body.output)) throw malformedResponseError(provider, 'Response object');
  return body;
}

/**
 * One SSE `data:` payload → the event; an `error` event (OpenAI's mid-stream failure) throws, its text
 * kept for the log only (with `apiKey` redacted), never relayed.
 */
export function parseResponsesEvent(provider: string, data: string, apiKey?: string): ResponsesUpstreamEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw malformedResponseError(provider, 'Responses stream event', err);
  }
  if (!isRecord(parsed) || typeof parsed.type !== 'string') throw malformedResponseError(provider, 'Responses stream event');
  if (parsed.type === 'error') {
    const inner = isRecord(parsed.error) ? parsed.error : parsed;
    throw upstreamFailure({
      provider,
      status: statusForErrorType(inner.type),
      detail: typeof inner.message === 'string' ? inner.message : data,
      apiKey,
      midStream: true,
    });
  }
  return { type: parsed.type, data, parsed };
}
