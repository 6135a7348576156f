/**
 * Upstreams that quote the credentials they received back in their errors, for each provider kind,
 * streamed and not: the client sees a message the gateway wrote (provider, status, what to do) with the
 * OpenAI type and code, and no piece of the key; the log keeps the upstream's words, redacted.
 */
import OpenAI from 'openai';
import { MIN_KEY_FRAGMENT } from '../../lambda/core/redact';
import type { DoubleBehaviour, UpstreamDouble } from '../doubles/http-double';
import { ANTHROPIC_UPSTREAM_KEY, FAKE_AWS, OPENAI_UPSTREAM_KEY, startRig, type Rig } from './support/harness';

let rig: Rig;
let apiKey: string;

beforeAll(async () => {
  rig = await startRig({ captureLogs: true });
  ({ apiKey } = await rig.newKey({ name: 'leaks' }));
});
afterAll(() => rig.close());

/** Every 6-character piece of `secret` found in `text`: a quoted prefix, a masked key's ends, the whole. */
function fragmentsOf(secret: string, text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + MIN_KEY_FRAGMENT <= secret.length; i++) {
    const piece = secret.slice(i, i + MIN_KEY_FRAGMENT);
    if (text.includes(piece)) found.push(piece);
  }
  return found;
}

/** The whole quoted header, a prefix of the key, and a masked form (start…end), as upstreams quote keys. */
const quoting = (header: string, skip: number) =>
  `Incorrect credentials: {{header:${header}}}; key starts {{header:${header}:${skip}:${skip + 9}}}****{{header:${header}:${skip + 14}:${skip + 21}}} at /srv/app/handler.py:42`;

interface Kind {
  model: string;
  double: () => UpstreamDouble;
  header: string;
  /** Characters of the header before the key (`Bearer `). */
  skip: number;
  secrets: string[];
}

const KINDS: Record<string, Kind> = {
  'openai-compatible': { model: 'gpt', double: () => rig.openai, header: 'authorization', skip: 7, secrets: [OPENAI_UPSTREAM_KEY] },
  anthropic: { model: 'claude', double: () => rig.anthropic, header: 'x-api-key', skip: 0, secrets: [ANTHROPIC_UPSTREAM_KEY] },
  // SigV4: the header carries the access key id and a signature; the secret key itself never travels.
  bedrock: { model: 'nova', double: () => rig.bedrock, header: 'authorization', skip: 0, secrets: [FAKE_AWS.accessKeyId] },
};

const CASES: Array<[string, (k: Kind) => DoubleBehaviour, boolean, number, string]> = [
  ['a 401 answer', (k) => ({ kind: 'status', status: 401, message: quoting(k.header, k.skip) }), false, 502, 'upstream_auth_failed'],
  ['a 500 answer', (k) => ({ kind: 'status', status: 500, message: quoting(k.header, k.skip) }), false, 502, 'upstream_server_error'],
  ['a 400 answer to a stream', (k) => ({ kind: 'status', status: 400, message: quoting(k.header, k.skip) }), true, 400, 'upstream_invalid_request'],
  ['a 429 answer to a stream', (k) => ({ kind: 'status', status: 429, message: quoting(k.header, k.skip) }), true, 429, 'upstream_rate_limited'],
];

describe.each(Object.entries(KINDS))('Upstream errors that quote credentials: %s', (_name, kind) => {
  const before = () => rig.logs.join('').length;

  it.each(CASES)('%s reaches the client as a gateway-written OpenAI error without the key', async (_case, behaviour, stream, status, code) => {
    const logStart = before();
    kind.double().setScript(behaviour(kind));
    const client = rig.client(apiKey);
    const err = await (async () => {
      if (!stream) return client.chat.completions.create({ model: kind.model, messages: [{ role: 'user', content: 'hi' }] });
      const s = await client.chat.completions.create({ model: kind.model, messages: [{ role: 'user', content: 'hi' }], stream: true });
      for await (const chunk of s) void chunk;
      return undefined;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(status);
    expect(apiError.code).toBe(code);
    const seen = JSON.stringify(apiError.error) + apiError.message;
    expect(seen).toMatch(/Provider '\w+'/);
    expect(seen).not.toMatch(/Incorrect credentials|handler\.py|Bearer|AWS4-HMAC/);
    for (const secret of kind.secrets) expect(fragmentsOf(secret, seen)).toEqual([]);

    await rig.gateway.idle();
    const logs = rig.logs.join('').slice(logStart);
    for (const secret of [...kind.secrets, apiKey]) expect(fragmentsOf(secret, logs)).toEqual([]);
    // The upstream's words are kept for the operator, redacted.
    expect(logs).toMatch(/"detail":"[^"]*Incorrect credentials[^"]*\[redacted/);
  });

  it('an error inside the stream (after the first byte) ends it with a gateway-written error event without the key', async () => {
    const logStart = before();
    kind.double().setScript({ kind: 'streamError', afterChunks: 1, message: quoting(kind.header, kind.skip) });
    const res = await fetch(`${rig.gateway.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: kind.model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.text();
    const event = text.split('\n\n').find((e) => e.startsWith('data: {"error"'));
    expect(event).toBeDefined();
    expect(JSON.parse(event!.slice('data: '.length))).toMatchObject({ error: { message: expect.stringMatching(/^Provider '\w+' .* in the middle of the answer\./) } });
    expect(text).not.toMatch(/Incorrect credentials|handler\.py|Bearer|AWS4-HMAC/);
    for (const secret of kind.secrets) expect(fragmentsOf(secret, text)).toEqual([]);

    await rig.gateway.idle();
    const logs = rig.logs.join('').slice(logStart);
    for (const secret of kind.secrets) expect(fragmentsOf(secret, logs)).toEqual([]);
  });
});
