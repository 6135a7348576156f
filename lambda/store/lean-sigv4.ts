/**
 * AWS Signature Version 4 for the lean DynamoDB client's one request shape: `POST /` with a JSON body
 * and a fixed, small set of headers. Hand-written on node:crypto because the SDK's signer
 * (@smithy/signature-v4 behind @aws-sdk/core's httpSigningMiddleware) is generic per-request middleware:
 * it clones the request, canonicalises any header set and query, and hashes through async wrappers, which
 * the profile showed as a visible slice of every store call. `aws4` is not a dependency and is just as
 * generic (query parsing, header normalising). test/unit/store/lean-sigv4.test.ts proves this produces
 * the same Authorization header as @smithy/signature-v4, byte for byte.
 */
import { createHmac, hash } from 'node:crypto';
import { copyOwn } from '../core/plain-object';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignInput {
  /** `host[:port]` as sent in the Host header. */
  host: string;
  /** Lower-case header names; host, x-amz-date, x-amz-content-sha256 and x-amz-security-token are added. */
  headers: Record<string, string>;
  body: string;
  credentials: SigningCredentials;
  now: Date;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

function sha256Hex(data: string): string {
  return hash('sha256', data, 'hex'); // one-shot: no Hash object per call
}

/** SigV4's header value canonical form: trimmed, inner whitespace runs as one space (ours rarely have any). */
function canonicalValue(v: string): string {
  return /\s/.test(v) ? v.trim().replace(/\s+/g, ' ') : v;
}

let lastSecond = -1;
let lastDate = '';

/** `20261201T192113Z` (formatted once a second: every store call signs). */
export function amzDate(now: Date): string {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== lastSecond) {
    lastDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    lastSecond = second;
  }
  return lastDate;
}

export class SigV4Signer {
  /** The derived key depends only on secret, day, region and service: derive it once a day. */
  private cached: { day: string; secret: string; key: Buffer } | undefined;

  constructor(
    private readonly region: string,
    private readonly service: string,
  ) {}

  /** The request's headers, signed: the given ones plus host, x-amz-date, payload hash, token, authorization. */
  sign(input: SignInput): Record<string, string> {
    const { credentials } = input;
    const date = amzDate(input.now);
    const day = date.slice(0, 8);
    // Not a spread with keys after it: Node 20 makes a new hidden class per call for that (plain-object.ts).
    const headers: Record<string, string> = copyOwn({}, input.headers);
    headers.host = input.host;
    headers['x-amz-content-sha256'] = sha256Hex(input.body);
    headers['x-amz-date'] = date;
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    const names = Object.keys(headers).sort();
    const signedHeaders = names.join(';');
    const canonicalHeaders = names.map((n) => `${n}:${canonicalValue(headers[n])}\n`).join('');
    const canonicalRequest = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${headers['x-amz-content-sha256']}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${date}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.signingKey(day, credentials.secretAccessKey)).update(stringToSign, 'utf8').digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(day: string, secret: string): Buffer {
    if (this.cached?.day === day && this.cached.secret === secret) return this.cached.key;
    let key = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    for (const part of [this.region, this.service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    this.cached = { day, secret, key };
    return key;
  }
}
