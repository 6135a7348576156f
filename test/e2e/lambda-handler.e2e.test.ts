/**
 * The Lambda entry end to end: the runtime composed from the function's environment exactly as in AWS
 * (provider keys read by the gateway's own signed GetSecretValue from a Secrets Manager double on loopback,
 * or by Powertools' getSecret when the environment asks for the SDK; store on
 * DynamoDB Local, the OpenAI double upstream), invoked through an emulation of the response-streaming
 * contract with API Gateway REST proxy events; EMF metrics captured from the handler's output.
 */
import { createLambdaRuntime, type LambdaRuntime } from '../../lambda/handlers/lambda-runtime';
import { createStreamingHandler } from '../../lambda/handlers/lambda-streaming';
import { startOpenAIDouble, type UpstreamDouble } from '../doubles/openai-double';
import { startSecretsManagerDouble, type SecretsManagerDouble } from '../doubles/secrets-manager-double';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../support/dynamodb-local';
import { awsLambdaEmulation, captureStream, restProxyEvent } from '../support/lambda-streaming-emulator';
import { captureStdout, type StdoutCapture } from '../unit/telemetry/stdout-capture';

const PROVIDER_SECRET = 'fake-provider-key-from-secrets-manager';

let upstream: UpstreamDouble;
let secrets: SecretsManagerDouble;
let tables: TestTables;
const dynamo = testDynamoClient();
let runtime: LambdaRuntime;
let apiKey: string;
let out: StdoutCapture;
let functionEnv: Parameters<typeof createLambdaRuntime>[0];

beforeAll(async () => {
  upstream = await startOpenAIDouble();
  secrets = await startSecretsManagerDouble({ openai: PROVIDER_SECRET });
  tables = await createTestTables(dynamo, 'lambda');
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url;
  const config = {
    providers: { openai: { kind: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKey: { env: 'UNUSED_IN_LAMBDA' } } },
    models: { gpt: { maxOutputTokens: 500, targets: [{ provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 30_000 }] } },
  };
  functionEnv = {
    TOLLGATE_KEYS_TABLE: tables.keys,
    TOLLGATE_LEDGER_TABLE: tables.ledger,
    TOLLGATE_PROVIDER_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate-provider-keys-AbCdEf',
    TOLLGATE_CONFIG_JSON: JSON.stringify(config),
    // As Lambda sets them (fake credentials, built at run time); the endpoint as the SDK would read it.
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: ['AKID', 'HANDLER', 'E2E'].join(''),
    AWS_SECRET_ACCESS_KEY: ['handler', 'e2e', 'signing'].join('/'),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
  };
  runtime = createLambdaRuntime(functionEnv, { dynamo });
  ({ apiKey } = await runtime.gatekeeper.keys.create({ name: 'lambda-e2e', team: 'search', defaultFeature: 'answers' }));
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  await upstream.close();
  await secrets.close();
  await deleteTestTables(dynamo, tables);
});

beforeEach(() => {
  out = captureStdout();
});
afterEach(() => out.restore());

function invoke(body: unknown, headers: Record<string, string> = { authorization: `Bearer ${apiKey}` }, rt: LambdaRuntime = runtime) {
  const handler = createStreamingHandler(rt.app, awsLambdaEmulation, { afterInvocation: () => rt.telemetry.flush() });
  const cap = captureStream();
  const event = restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body: JSON.stringify(body), headers });
  return handler(event, cap.stream, { getRemainingTimeInMillis: () => 300_000 }).then(() => cap.result());
}

describe('Handler: gateway (Lambda runtime composed from its environment)', () => {
  it('streams SSE through the contract, with the provider key read from Secrets Manager, and emits EMF before returning', async () => {
    upstream.setScript({ kind: 'ok', chunkCount: 3, usage: { promptTokens: 9, completionTokens: 3 } });
    const res = await invoke({ model: 'gpt', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.prelude.statusCode).toBe(200);
    expect(res.prelude.headers?.['content-type']).toMatch(/^text\/event-stream/);
    const events = res.body.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice(6)).usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3 });
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expect(secrets.calls).toEqual(['secretsmanager.GetSecretValue']);
    // The gateway's own signed call (SigV4 for secretsmanager in the function's region), not the SDK's.
    expect(secrets.requests[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDHANDLERE2E\/\d{8}\/us-east-1\/secretsmanager\/aws4_request, /);
    expect(String(secrets.requests[0].headers['user-agent'] ?? '')).not.toMatch(/aws-sdk/);

    // Metrics were written by the time the handler returned: the aggregate and the model/provider sets.
    const docs = out.emf();
    const requests = docs.filter((d) => d._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === 'Requests'));
    expect(requests.length).toBeGreaterThan(0);
    const byModel = docs.find((d) => d.Model === 'gpt-4o-mini' && d.Provider === 'openai');
    expect(byModel).toBeDefined();
    expect(byModel!.InputTokens).toBe(9);
    expect(byModel!.OutputTokens).toBe(3);
    expect(byModel!._aws.CloudWatchMetrics[0].Namespace).toBe('Tollgate');
    const log = out.logs().find((l) => l.message === 'request');
    expect(log).toMatchObject({ team: 'search', feature: 'answers', status: 'success', inputTokens: 9, outputTokens: 3 });
    expect(out.raw.join('')).not.toContain(PROVIDER_SECRET);
    expect(out.raw.join('')).not.toContain(apiKey);
  });

  it('answers a non-streaming request with JSON, and caches the secret between invocations', async () => {
    upstream.setScript({ kind: 'ok', text: 'plain answer', usage: { promptTokens: 5, completionTokens: 2 } });
    const before = secrets.calls.length;
    const res = await invoke({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.prelude.statusCode).toBe(200);
    expect(JSON.parse(res.body).choices[0].message.content).toBe('plain answer');
    expect(secrets.calls.length).toBe(before);
    const doc = out.emf().find((d) => d.Model === 'gpt-4o-mini');
    expect(doc).toMatchObject({ InputTokens: 5, OutputTokens: 2 });
  });

  it('answers 503 provider_key_unavailable when the secret cannot be read, quoting neither the secret nor a key, and reads it once it can', async () => {
    const fresh = createLambdaRuntime(functionEnv, { dynamo });
    secrets.failNext({ status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform secretsmanager:GetSecretValue' } });
    const before = upstream.requests.length;
    const refused = await invoke({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, undefined, fresh);
    expect(refused.prelude.statusCode).toBe(503);
    expect(JSON.parse(refused.body).error).toMatchObject({ type: 'upstream_error', code: 'provider_key_unavailable' });
    expect(upstream.requests.length).toBe(before);
    // Settled as a failure before the first byte: recorded, nothing metered or charged.
    expect(out.logs().filter((l) => l.message === 'request')).toEqual([expect.objectContaining({ status: 'upstream_error', httpStatus: 503, errorCode: 'provider_key_unavailable', costMicros: 0 })]);
    expect(out.raw.join('')).not.toContain(PROVIDER_SECRET);
    // A failure is not cached: the next request reads the secret and is served.
    upstream.setScript({ kind: 'ok', text: 'after', usage: { promptTokens: 5, completionTokens: 1 } });
    const served = await invoke({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, undefined, fresh);
    expect(served.prelude.statusCode).toBe(200);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
  });

  it('reads the secret through Powertools (the SDK) when the environment asks for what only the SDK interprets', async () => {
    const viaSdk = createLambdaRuntime({ ...functionEnv, AWS_RETRY_MODE: 'standard' }, { dynamo });
    const calls = secrets.requests.length;
    upstream.setScript({ kind: 'ok', text: 'via sdk', usage: { promptTokens: 5, completionTokens: 2 } });
    const res = await invoke({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, undefined, viaSdk);
    expect(res.prelude.statusCode).toBe(200);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expect(String(secrets.requests.at(-1)!.headers['user-agent'])).toMatch(/aws-sdk-js/);
    expect(secrets.requests.length).toBe(calls + 1);
  });

  it('rejects a bad key with a 401 prelude and counts the rejection in EMF', async () => {
    const res = await invoke({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer tg_nope' });
    expect(res.prelude.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.type).toBe('authentication_error');
    const errors = out.emf().filter((d) => d.ErrorClass === 'auth');
    expect(errors.length).toBe(1);
  });
});
