/** Small HTTP helpers shared by the app: JSON and error responses, bounded body reading. */
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';
import { ClientAbortedError } from '../core/routing';
import { webChunks } from '../providers/shared/http-transport';
import type { GatewayRequest } from './gateway-app';

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = JSON.stringify(body);
  const response = new Response(text, {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
  // The servers write these bytes as they are (relay.ts bodyReader), without the body's web stream.
  Object.defineProperty(response, RAW_BODY, { value: text });
  return response;
}

/** A Response's body as the string it was built from (jsonResponse). */
export const RAW_BODY = Symbol('tollgate.rawBody');

/** `application/json` and `application/<anything>+json`, any parameters (charset), any case. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/**
 * A POST body must be declared JSON, or not declared at all (raw HTTP clients, API Gateway test events):
 * `text/plain` (fetch with a string body), `application/x-www-form-urlencoded` (curl -d without -H) and
 * the rest are refused with 415 before the body is read, as OpenAI refuses them.
 */
export function requireJsonContentType(headers: Headers): void {
  const declared = headers.get('content-type');
  if (declared === null) return;
  const mediaType = declared.split(';', 1)[0].trim();
  if (!JSON_MEDIA_TYPE.test(mediaType)) throw new UnsupportedMediaTypeError(declared);
}

/**
 * Read the body as text, refusing more than `limit` bytes. Checks content-length first so an honest
 * oversized request is refused before reading it, and counts bytes while reading so a lying one is too.
 */
export async function readBodyText(request: GatewayRequest, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  const body = (request.chunks ?? webChunks(request.body))[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let read: IteratorResult<Uint8Array>;
    try {
      read = await body.next();
    } catch {
      // The body fails only when the connection does (the client left, or the server cut a body that took
      // too long): the client's doing, logged as such, never an internal error.
      throw new ClientAbortedError();
    }
    if (read.done) break;
    size += read.value.byteLength;
    if (size > limit) {
      // Leaving early cancels the body (a web stream) or destroys it with its socket (a Node request).
      await Promise.resolve(body.return?.()).catch(() => undefined);
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new BadRequestError('The request body is empty; expected a JSON object.', { code: 'invalid_json' });
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError(
      'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
      { code: 'invalid_json' },
    );
  }
}
