/**
 * The one redaction routine. Text that came from outside the gateway (an upstream's error body, an SDK
 * exception's message, a stack) passes through `redactSecrets` before it is logged, and is never sent
 * to a client at all (clients get messages the gateway writes, see providers/shared/upstream-errors.ts).
 *
 * Removed: the provider keys the caller names and any fragment of one 6 characters or longer (upstreams
 * quote keys masked, `sk-proj-abc***wxyz`, or cut); bearer/basic credentials and `authorization`,
 * `api-key`, `secret`, `token` values; SigV4 credentials and signatures; strings shaped like known key
 * formats; and long random-looking tokens.
 */

/** A key fragment this long is redacted wherever it appears. */
export const MIN_KEY_FRAGMENT = 6;
/** Text beyond this is cut before scanning: an error body has no reason to be larger. */
const MAX_SCANNED_CHARS = 64 * 1024;
const REDACTED = '[redacted]';

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // `Authorization: Bearer ...`, `"x-api-key":"..."`, `token=...`: the value after a credential-naming field.
  [
    /((?:api[-_]?key|authorization|secret|password|token|credentials?)["']?\s*[:=]\s*["']?)(?:(?:Bearer|Basic|AWS4-HMAC-SHA256)\s+)?[^\s"',}]+/gi,
    `$1${REDACTED}`,
  ],
  [/\b(Bearer|Basic)\s+[^\s"',]+/gi, `$1 ${REDACTED}`],
  // SigV4 (Bedrock): `Credential=AKIA.../20260101/us-east-1/bedrock/aws4_request, Signature=<hex>`.
  [/\b(Credential|Signature|X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature)=[^\s,"'&]+/gi, `$1=${REDACTED}`],
  // OpenAI/Anthropic/Groq/xAI/Tollgate-style keys, including the partly masked ones upstream 401s echo.
  [/\b(sk|pk|rk|gsk|tg|xai)[-_][A-Za-z0-9_*-]{6,}/g, '[redacted-key]'],
  [/\bAIza[0-9A-Za-z_-]{20,}/g, '[redacted-key]'],
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, '[redacted-aws-key]'],
  // Anything else that looks like a random secret: 32+ characters of a token alphabet mixing letters and digits.
  [/(?<![A-Za-z0-9_\-+/])(?=[A-Za-z0-9_\-+/]{0,200}\d)(?=[A-Za-z0-9_\-+/]{0,200}[A-Za-z])[A-Za-z0-9_\-+/]{32,}={0,2}/g, '[redacted-token]'],
];

/** `text` with the named keys (and any 6+ character fragment of them) and every key-shaped string removed. */
export function redactSecrets(text: string, keys: ReadonlyArray<string | undefined> = []): string {
  let out = text.length > MAX_SCANNED_CHARS ? text.slice(0, MAX_SCANNED_CHARS) : text;
  for (const key of keys) if (key) out = redactKeyFragments(out, key);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Every stretch of `text` covered by some 6-character piece of `key` becomes `[redacted]`: the whole key,
 * any prefix or suffix of it, and any run inside it, however the upstream cut or masked it.
 */
function redactKeyFragments(text: string, key: string): string {
  if (key.length < MIN_KEY_FRAGMENT) return key.length > 0 ? text.split(key).join(REDACTED) : text;
  const pieces = new Set<string>();
  for (let i = 0; i + MIN_KEY_FRAGMENT <= key.length; i++) pieces.add(key.slice(i, i + MIN_KEY_FRAGMENT));
  let coveredUntil = -1;
  let out = '';
  let runStart = -1;
  for (let i = 0; i < text.length; i++) {
    if (i + MIN_KEY_FRAGMENT <= text.length && pieces.has(text.slice(i, i + MIN_KEY_FRAGMENT))) coveredUntil = i + MIN_KEY_FRAGMENT;
    if (i < coveredUntil) {
      if (runStart < 0) {
        runStart = i;
        out += REDACTED;
      }
    } else {
      runStart = -1;
      out += text[i];
    }
  }
  return out;
}
