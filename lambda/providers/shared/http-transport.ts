/**
 * The one HTTP call the fetch-based adapters make: POST JSON, link the caller's signal to an internal
 * abort controller (so a stream can cancel its own request), map connection failures and non-2xx
 * answers to UpstreamError.
 */
import { UpstreamError } from '../../core/errors';
import { linkedAbortController } from './abort';
import { abortError, connectionError, upstreamStatusError } from './upstream-errors';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface PostJsonOptions {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal;
  fetch?: FetchLike;
  /** Pulls the human message out of the provider's error body (shapes differ per provider). */
  errorMessage: (body: unknown) => string | undefined;
  /** For scrubbing the key out of anything echoed back. */
  apiKey?: string;
}

export interface OpenResponse {
  response: Response;
  /** Aborts the upstream request (and its body): call it when the consumer stops early. */
  abort: () => void;
}

export async function postJson(opts: PostJsonOptions): Promise<OpenResponse> {
  const controller = linkedAbortController(opts.signal);
  const signal = controller.signal;
  const abort = () => controller.abort();
  const doFetch = opts.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...opts.headers },
      body: JSON.stringify(opts.body),
      signal,
    });
  } catch (err) {
    if (opts.signal.aborted) throw abortError(opts.provider, opts.signal);
    throw connectionError(opts.provider, err);
  }
  if (!response.ok) {
    const text = await readTextQuietly(response, opts.signal);
    abort();
    if (opts.signal.aborted) throw abortError(opts.provider, opts.signal);
    throw upstreamStatusError(opts.provider, response.status, messageFromBody(text, opts.errorMessage), opts.apiKey);
  }
  return { response, abort };
}

/** Reads a whole JSON body; a broken connection or invalid JSON becomes an UpstreamError. */
export async function readJson(provider: string, open: OpenResponse, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await open.response.text();
  } catch (err) {
    open.abort();
    if (signal.aborted) throw abortError(provider, signal);
    throw connectionError(provider, err, 'closed the connection before the response was complete');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UpstreamError(provider, `Provider '${provider}' sent a response that is not JSON.`, {
      code: 'upstream_malformed_response',
      cause: err,
    });
  }
}

async function readTextQuietly(response: Response, signal: AbortSignal): Promise<string> {
  if (signal.aborted) return '';
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function messageFromBody(text: string, extract: (body: unknown) => string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    return extract(JSON.parse(text)) ?? text;
  } catch {
    return text;
  }
}

/** `{"error": {"message": "..."}}` or `{"error": "..."}` or `{"message": "..."}`: the common shapes. */
export function commonErrorMessage(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (typeof error === 'string') return error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  if (typeof body.message === 'string') return body.message;
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
