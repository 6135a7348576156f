/**
 * The shipped gateway bundle calling providers, from a cold container (a plain `node` with the function's
 * environment, as test/e2e/lambda-bundle.e2e.test.ts): the bundle carries no AWS SDK client, so
 *   - an OpenAI-compatible request reads its provider key with the gateway's own signed GetSecretValue
 *     (lambda/app/lean-secrets.ts) from a Secrets Manager double and loads no chunk at all;
 *   - a Bedrock request loads the Bedrock client's chunk (lib/lazy-chunks.ts: it carries the HTTP/1.1
 *     handler the adapter uses) and streams through it from a Bedrock double speaking the AWS event-stream framing.
 * Doubles on loopback in this process; the probe runs without blocking it (runProbeAsync).
 */
import { bundleHandler } from '../../bench/bundle';
import { parseConfig } from '../../lambda/core/config';
import { startBedrockDouble } from '../doubles/bedrock-double';
import { doublesConfig } from '../doubles/doubles-config';
import type { UpstreamDouble } from '../doubles/http-double';
import { startOpenAIDouble } from '../doubles/openai-double';
import { startSecretsManagerDouble, type SecretsManagerDouble } from '../doubles/secrets-manager-double';
import { functionEnv, PROBE_MARK, runProbeAsync, useBundledGateway } from '../support/bundle-probe';
import { restProxyEvent } from '../support/lambda-streaming-emulator';

const PROVIDER_KEY = ['sk', 'bundle', 'provider', 'key'].join('-');

let openai: UpstreamDouble;
let bedrock: UpstreamDouble;
let secrets: SecretsManagerDouble;

// Before the bundle is built (useBundledGateway's beforeAll): the baked config names the doubles' URLs.
beforeAll(async () => {
  [openai, bedrock, secrets] = await Promise.all([startOpenAIDouble(), startBedrockDouble(), startSecretsManagerDouble({ openai: PROVIDER_KEY })]);
});
afterAll(async () => {
  await Promise.all([openai?.close(), bedrock?.close(), secrets?.close()]);
});

const gw = useBundledGateway('bundle-providers', async (dir) => {
  const config = parseConfig(doublesConfig({ openai: openai.url, bedrock: bedrock.url }));
  return (await bundleHandler('lambda/handlers/gateway.ts', dir, { config })).file;
});

interface Invocation {
  status: number;
  body: string;
  /** Chunk files (node_modules/...) required by the time this invocation returned. */
  chunks: string[];
}

/** One cold container: the bundle required, then each event invoked in turn. */
function coldContainer(events: unknown[]): Promise<Invocation[]> {
  const script = `const { Writable } = require('node:stream');
const chunks = () => Object.keys(require.cache).filter((f) => f.includes('node_modules')).map((f) => f.slice(f.indexOf('node_modules')));
(async () => {
  const { handler } = require(${JSON.stringify(gw.bundle)});
  const out = [];
  for (const event of ${JSON.stringify(events)}) {
    let body = '';
    const stream = new Writable({ write(chunk, _enc, cb) { body += chunk; cb(); } });
    await handler(event, stream, { getRemainingTimeInMillis: () => 300000 });
    out.push({ status: stream.metadata.statusCode, body, chunks: chunks().sort() });
  }
  process.stdout.write(${JSON.stringify(PROBE_MARK)} + JSON.stringify(out), () => process.exit(0));
})();`;
  return runProbeAsync<Invocation[]>(script, { ...functionEnv(gw.tables), AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url }, gw.stub);
}

function chat(model: string, stream: boolean): unknown {
  return restProxyEvent({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, ...(stream ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content: 'hello' }] }),
  });
}

function sseContent(body: string): string {
  return body
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '')
    .join('');
}

describe('Handler: the bundled gateway calling providers from a cold container', () => {
  it('reads the provider key with its own signed call and streams an OpenAI-compatible answer, loading no SDK chunk; Bedrock then loads its one', async () => {
    openai.setScript({ kind: 'ok', text: 'from openai', usage: { promptTokens: 7, completionTokens: 3 } });
    const fromBedrock = { kind: 'ok', text: 'from bedrock', usage: { promptTokens: 6, completionTokens: 3 } } as const;
    bedrock.setScript(fromBedrock, fromBedrock);
    const [first, second, third] = await coldContainer([chat('gpt', true), chat('nova', true), chat('nova', false)]);

    expect(first.status).toBe(200);
    expect(sseContent(first.body)).toBe('from openai');
    expect(first.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(secrets.calls).toEqual(['secretsmanager.GetSecretValue']);
    expect(secrets.requests[0].headers.authorization).toMatch(/\/us-east-1\/secretsmanager\/aws4_request, /);
    expect(String(secrets.requests[0].headers['user-agent'] ?? '')).not.toMatch(/aws-sdk/);
    // No chunk on the way (no SDK client, no Smithy core, no Powertools parameters); only the tokenizer,
    // which a container loads after its first response by design (lambda/core/token-estimate.ts).
    expect(first.chunks).toEqual(['node_modules/gpt-tokenizer/index.js']);

    expect(second.status).toBe(200);
    expect(sseContent(second.body)).toBe('from bedrock');
    // One chunk: the Bedrock client's, which carries the HTTP/1.1 handler the adapter gives it.
    expect(second.chunks).toEqual(['node_modules/@aws-sdk/client-bedrock-runtime/index.js', 'node_modules/gpt-tokenizer/index.js']);
    expect(bedrock.requests.map((r) => r.path)).toEqual(['/model/amazon.nova-lite-v1%3A0/converse-stream', '/model/amazon.nova-lite-v1%3A0/converse']);

    expect(third.status).toBe(200);
    expect((JSON.parse(third.body) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('from bedrock');
    // The secret was read once for the container (cached for its max age); Bedrock needs none.
    expect(secrets.calls).toHaveLength(1);
    expect(first.body + second.body + third.body).not.toContain(PROVIDER_KEY);
  });

  it("maps Bedrock's errors through the chunked client as the sources do: a refused request and an exception mid-stream", async () => {
    bedrock.setScript({ kind: 'status', status: 400, message: 'messages: roles must alternate' }, { kind: 'streamError', afterChunks: 1, errorType: 'throttlingException', message: 'slow down' });
    const [refused, cut] = await coldContainer([chat('nova', false), chat('nova', true)]);
    // ValidationException (400): the client's mistake, named as such.
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'upstream_invalid_request' } });
    // A throttlingException frame after the first content chunk: the stream ends with OpenAI's error event.
    expect(cut.status).toBe(200);
    const events = cut.body.split('\n\n').filter(Boolean);
    expect(JSON.parse(events.at(-1)!.slice(6))).toMatchObject({ error: { type: 'rate_limit_error', code: 'upstream_rate_limited' } });
    expect(cut.body).not.toContain('[DONE]');
  });
});
