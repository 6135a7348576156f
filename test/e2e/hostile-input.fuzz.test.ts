/**
 * Property-based fuzzing (fast-check) of every surface through the real local server (node:http, the same
 * composition as `npm start`), backed by DynamoDB Local, in front of the provider doubles on loopback.
 *
 * Properties, for every generated request (method, path, headers, body):
 *   - never a 5xx: the doubles answer every valid request, so a 5xx could only be caused by the input;
 *   - every refused request is a 4xx with a JSON body `{"error":{"message":string,"type":string,...}}`;
 *   - neither the gateway key nor a provider key (nor a 10+ character piece of one) is in the answer;
 *   - nothing is metered for a refused request: no usage record under its request id (a parameter no target
 *     of the model can honour included: the targets' checks run before admission);
 *   - an answer within 20 s (no hang).
 *
 * Bounded: TOLLGATE_FUZZ_RUNS runs per property (default 40). Replay a failure with the seed fast-check
 * prints: TOLLGATE_FUZZ_SEED=<seed> npx jest test/e2e/hostile-input.fuzz.test.ts
 */
import fc from 'fast-check';
import { request } from 'node:http';
import { createStreamingHandler } from '../../lambda/handlers/lambda-streaming';
import { awsLambdaEmulation, captureStream, restProxyEvent } from '../support/lambda-streaming-emulator';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, periods, startRig, type Rig } from './support/harness';

const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 40);
const SEED = process.env.TOLLGATE_FUZZ_SEED ? Number(process.env.TOLLGATE_FUZZ_SEED) : undefined;
const FRAGMENT = 10;
/** Jest's per-test limit grows with the runs asked for (a campaign of 1,000 runs takes minutes). */
const TIMEOUT_MS = Math.max(60_000, RUNS * 400);

let rig: Rig;
let apiKey: string;
let keyId: string;

beforeAll(async () => {
  rig = await startRig({
    extend: () => ({
      models: { embed: { targets: [{ provider: 'openai', model: 'text-embedding-3-small' }] } },
      pricing: { 'openai/text-embedding-3-small': { input: 0.02, output: 0 } },
    }),
  });
  ({ apiKey, keyId } = await rig.newKey({ name: 'fuzz' }));
});
afterAll(() => rig?.close());

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(s: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: rig.gateway.port, method: s.method, path: s.path, headers: s.headers, timeout: 20_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 20 s to ${s.method} ${s.path}`)));
    req.on('error', reject);
    req.end(s.body);
  });
}

function leakedPieces(secret: string, text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + FRAGMENT <= secret.length; i++) if (text.includes(secret.slice(i, i + FRAGMENT))) found.push(secret.slice(i, i + FRAGMENT));
  return found;
}

async function checkAnswer(sent: Sent, answer: Answer): Promise<void> {
  const where = `${sent.method} ${sent.path} ${sent.body?.toString().slice(0, 400)} → ${answer.status} ${answer.text.slice(0, 300)}`;
  if (answer.status >= 500 || answer.status < 200) throw new Error(`status out of range: ${where}`);
  const seen = answer.text + JSON.stringify(answer.headers);
  for (const secret of [apiKey, OPENAI_UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY]) {
    const pieces = leakedPieces(secret, seen);
    if (pieces.length) throw new Error(`secret echoed (${pieces[0]}): ${where}`);
  }
  if (answer.status < 400) return;
  if (!String(answer.headers['content-type']).startsWith('application/json')) throw new Error(`error without a JSON content-type: ${where}`);
  if (sent.method !== 'HEAD') {
    const body = JSON.parse(answer.text) as { error?: { message?: unknown; type?: unknown } };
    if (typeof body.error?.message !== 'string' || typeof body.error.type !== 'string') throw new Error(`error body not in shape: ${where}`);
  }
  const requestId = answer.headers['x-tollgate-request-id'];
  if (typeof requestId === 'string') {
    await rig.gateway.idle();
    const records = await rig.gateway.runtime.gatekeeper.usage.requests(periods().day, { keyId });
    // Every refusal happens before admission: no record at all, not even a $0 one.
    const metered = records.filter((r) => r.requestId === requestId);
    if (metered.length) throw new Error(`refused request metered (${JSON.stringify(metered[0])}): ${where}`);
  }
}

const SURFACES = {
  '/v1/chat/completions': { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 },
  '/v1/messages': { model: 'claude', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] },
  '/v1/messages/count_tokens': { model: 'claude', messages: [{ role: 'user', content: 'hi' }] },
  '/v1/responses': { model: 'gpt', input: 'hi', max_output_tokens: 20 },
  '/v1/embeddings': { model: 'embed', input: 'hi' },
} as const;
type SurfacePath = keyof typeof SURFACES;
const PATHS = Object.keys(SURFACES) as SurfacePath[];

/** Values that stress validators: wrong types, huge and negative numbers, odd strings, deep nesting. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, -1, 0, 1e308, -1e308, 2 ** 53 + 1, 1.5, '', '\u0000', '__proto__', 'constructor', '💥'.repeat(50), 'x'.repeat(5_000)),
  fc.constantFrom('gpt', 'claude', 'nova', 'embed', 'resilient', 'openai/gpt-4o-mini', '../gpt', 'gpt\u0000', 'GPT'),
  fc.integer({ min: 1, max: 60 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown),
  fc.constant({ __proto__: { polluted: true } }),
);

/** A valid body with one change: a field set to a nasty value, a field removed, or a message changed. */
const mutatedBody = (path: SurfacePath) =>
  fc.oneof(
    fc.record({ key: fc.constantFrom(...Object.keys(SURFACES[path]), 'stream', 'n', 'tools', 'tool_choice', 'stop', 'user', 'metadata', 'temperature', 'system', 'input', 'messages', 'model', 'extra'), value: nasty }).map(({ key, value }) => ({ ...SURFACES[path], [key]: value })),
    fc.constantFrom(...Object.keys(SURFACES[path])).map((key) => Object.fromEntries(Object.entries(SURFACES[path]).filter(([k]) => k !== key))),
    fc.record({ field: fc.constantFrom('role', 'content', 'type', 'name', 'tool_calls', 'cache_control'), value: nasty, stream: fc.boolean() }).map(({ field, value, stream }) => ({
      ...SURFACES[path],
      stream,
      messages: [{ role: 'user', content: 'hi', [field]: value }],
    })),
    fc.boolean().map((stream) => ({ ...SURFACES[path], stream })),
  );

/** The body as bytes: JSON of a (mutated) object, arbitrary JSON, truncated JSON, or arbitrary bytes. */
const bodyFor = (path: SurfacePath): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 5, arbitrary: mutatedBody(path).map((b) => Buffer.from(JSON.stringify(b))) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
    { weight: 1, arbitrary: fc.tuple(mutatedBody(path), fc.nat()).map(([b, cut]) => { const t = JSON.stringify(b); return Buffer.from(t.slice(0, cut % t.length)); }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)) },
  );

/** Header values an HTTP client can send (visible ASCII and spaces, no CR/LF). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 });
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);

const authHeaders = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Record<string, string>>({}).map(() => ({ authorization: `Bearer ${apiKey}` })) },
  { weight: 1, arbitrary: fc.constant<Record<string, string>>({}).map(() => ({ 'x-api-key': apiKey })) },
  { weight: 1, arbitrary: fc.constant<Record<string, string>>({}) },
  { weight: 1, arbitrary: headerText.map((t) => ({ authorization: `Bearer ${apiKey}${t}` })) },
  { weight: 1, arbitrary: headerText.map((t) => ({ authorization: t })) },
  { weight: 1, arbitrary: headerText.map((t) => ({ authorization: `Bearer tg_${t}` })) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant<string | undefined>('application/json') },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>(undefined, 'application/json; charset=utf-8', 'Application/JSON', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/vnd.api+json', '') },
  { weight: 1, arbitrary: headerText.map((t): string | undefined => t) },
);

const extraHeaders = fc.dictionary(
  fc.oneof(headerName, fc.constantFrom('x-tollgate-customer', 'x-tollgate-feature', 'x-tollgate-environment', 'x-tollgate-experiment-arm', 'anthropic-version', 'anthropic-beta', 'accept', 'accept-encoding', 'expect', 'host', 'origin')),
  headerText,
  { maxKeys: 4 },
);

function headersOf(auth: Record<string, string>, type: string | undefined, extra: Record<string, string>, body?: Buffer): Record<string, string> {
  const headers: Record<string, string> = { ...extra, ...auth };
  // `expect: 100-continue` makes Node's client wait for a 100 the gateway does not send; keep requests simple.
  delete headers.expect;
  if (type !== undefined) headers['content-type'] = type;
  if (body) headers['content-length'] = String(body.length);
  return headers;
}

const params = { numRuns: RUNS, seed: SEED, endOnFailure: true } as const;
/** A surface's path with a body generated for it. */
const postToSurface = fc.constantFrom(...PATHS).chain((path) => fc.record({ path: fc.constant(path), body: bodyFor(path) }));

describe('Fuzz: hostile input never causes a 5xx, a leak or a charge', () => {
  it('POST bodies and headers on every surface', async () => {
    await fc.assert(
      fc.asyncProperty(
        postToSurface,
        authHeaders,
        contentType,
        extraHeaders,
        async ({ path, body }, auth, type, extra) => {
          const sent: Sent = { method: 'POST', path, headers: headersOf(auth, type, extra, body), body };
          await checkAnswer(sent, await send(sent));
        },
      ),
      params,
    );
  }, TIMEOUT_MS);

  it('valid bodies with a fuzzed content type are answered 2xx when JSON is declared (or nothing is), 415 otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), contentType, async (path, type) => {
        const body = Buffer.from(JSON.stringify(SURFACES[path]));
        const sent: Sent = { method: 'POST', path, headers: headersOf({ authorization: `Bearer ${apiKey}` }, type, {}, body), body };
        const answer = await send(sent);
        await checkAnswer(sent, answer);
        const declaresJson = type === undefined || /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type.trim());
        expect([answer.status, type]).toEqual([declaresJson ? 200 : 415, type]);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('methods, paths and query strings', async () => {
    const pathArb = fc.oneof(
      fc.constantFrom(...PATHS, '/v1/models', '/v1/models/', '/v1//chat/completions', '/v1/chat/completions/', '/v1/../v1/models', '/%2e%2e/v1/models', '/v1/chat%2fcompletions', '/', '/v2/chat/completions', '/v1/chat/completions;x=1'),
      fc.webPath(),
      fc.tuple(fc.constantFrom(...PATHS, '/v1/models'), fc.webQueryParameters()).map(([p, q]) => `${p}?${q}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND', 'SEARCH'),
        pathArb,
        authHeaders,
        fc.option(fc.constantFrom(...PATHS).chain(bodyFor), { nil: undefined }),
        async (method, path, auth, body) => {
          const withBody = method === 'GET' || method === 'HEAD' ? undefined : body;
          const sent: Sent = { method, path, headers: headersOf(auth, 'application/json', {}, withBody), body: withBody };
          await checkAnswer(sent, await send(sent));
        },
      ),
      params,
    );
  }, TIMEOUT_MS);

  it('POST bodies and headers on every surface through the Lambda streaming handler (API Gateway events)', async () => {
    const handler = createStreamingHandler(rig.gateway.runtime.app, awsLambdaEmulation);
    await fc.assert(
      fc.asyncProperty(
        postToSurface,
        authHeaders,
        contentType,
        extraHeaders,
        fc.boolean(),
        async ({ path, body }, auth, type, extra, base64) => {
          const headers = headersOf(auth, type, extra);
          delete headers.host;
          const cap = captureStream();
          // API Gateway hands binary bodies over base64-encoded, text as is.
          const text = body.toString('utf8');
          const asText = !base64 && Buffer.from(text, 'utf8').equals(body);
          const event = restProxyEvent({ method: 'POST', path, headers });
          event.body = asText ? text : body.toString('base64');
          event.isBase64Encoded = !asText;
          await handler(event, cap.stream, { getRemainingTimeInMillis: () => 300_000 });
          const { prelude, body: out } = cap.result();
          const answer: Answer = { status: prelude.statusCode, headers: prelude.headers ?? {}, text: out };
          await checkAnswer({ method: 'POST', path, headers, body }, answer);
        },
      ),
      params,
    );
  }, TIMEOUT_MS);
});
