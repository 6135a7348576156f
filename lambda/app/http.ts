/** Small HTTP helpers shared by the app: JSON and error responses, bounded body reading. */
import type { Readable } from 'node:stream';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';
import { listen } from '../core/listen';
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
  if (request.bodyText !== undefined) {
    // Lambda's event: the body is in hand (a lying content-length cannot hide its size).
    if (request.bodyText.length > limit || Buffer.byteLength(request.bodyText) > limit) throw new PayloadTooLargeError(limit);
    return request.bodyText;
  }
  if (isNodeReadable(request.chunks)) return readNodeBody(request.chunks, limit);
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

function isNodeReadable(chunks: AsyncIterable<Uint8Array> | undefined): chunks is Readable {
  return typeof (chunks as Readable | undefined)?.on === 'function' && typeof (chunks as Readable).destroy === 'function';
}

/**
 * A Node request's body (the local server), read by its events: the same contract as the loop above (a
 * failed or cut connection is the client's doing, more than `limit` bytes destroys the request with its
 * socket), without the async iterator Node builds per stream (its end-of-stream hooks and a promise per
 * read), which was ~0.1 ms of every request's way to its upstream call in situ (bench/profile-path.ts).
 */
function readNodeBody(stream: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      unlisten();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        finish(new PayloadTooLargeError(limit));
        stream.destroy();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(new ClientAbortedError());
    // Closed before its end: the client left (or the server cut a body that took too long).
    const onClose = () => finish(new ClientAbortedError());
    const unlisten = listen(stream, { data: onData, end: onEnd, error: onError, close: onClose });
  });
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
