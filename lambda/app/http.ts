/** Small HTTP helpers shared by the app: JSON and error responses, bounded body reading. */
import { BadRequestError, PayloadTooLargeError } from '../core/errors';

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * Read the body as text, refusing more than `limit` bytes. Checks content-length first so an honest
 * oversized request is refused before reading it, and counts bytes while reading so a lying one is too.
 */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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
