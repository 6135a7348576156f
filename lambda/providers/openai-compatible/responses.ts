/**
 * OpenAI's Responses API relayed natively (`POST {baseUrl}/responses`) for hosts configured with
 * `responsesApi`. The body is the client's (the surface sets the upstream model and output cap); what
 * comes back is checked only as far as metering needs: a Response object, or a stream of typed events that
 * ends with a terminal one.
 */
import { UpstreamError } from '../../core/errors';
import { isRecord } from '../shared/http-transport';
import { malformedResponseError } from '../shared/upstream-errors';
import type { ResponsesUpstreamEvent } from '../types';

export const TERMINAL_RESPONSE_EVENTS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export function responsesUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/responses`;
}

export function parseResponseObject(provider: string, body: unknown): Record<string, unknown> {
  if (!isRecord(body) || body.object !== 'response' || !Array.isArray(body.output)) throw malformedResponseError(provider, 'Response object');
  return body;
}

/** One SSE `data:` payload → the event; an `error` event (OpenAI's mid-stream failure) throws. */
export function parseResponsesEvent(provider: string, data: string): ResponsesUpstreamEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw malformedResponseError(provider, 'Responses stream event', err);
  }
  if (!isRecord(parsed) || typeof parsed.type !== 'string') throw malformedResponseError(provider, 'Responses stream event');
  if (parsed.type === 'error') {
    const inner = isRecord(parsed.error) ? parsed.error : parsed;
    const message = typeof inner.message === 'string' ? inner.message : 'unknown error';
    throw new UpstreamError(provider, `Provider '${provider}' reported an error mid-stream: ${message}`, { code: 'upstream_stream_error' });
  }
  return { type: parsed.type, data, parsed };
}
