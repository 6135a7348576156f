/**
 * The gateway's own GetSecretValue (lambda/app/lean-secrets.ts) against a Secrets Manager double on
 * loopback: the request is the one the SDK would sign (checked with @smithy/signature-v4), the value comes
 * back from SecretString or SecretBinary, retries are the SDK's standard ones (throttling, 5xx, a
 * connection cut; not a missing secret), and the cache shares one fetch and forgets a failure.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../support/smithy-sha256';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { cachedSecretJson, LeanSecretsReader, leanSecretsSettingsFromEnv, SecretsManagerError } from '../../../lambda/app/lean-secrets';
import { startSecretsManagerDouble, type SecretsManagerDouble } from '../../doubles/secrets-manager-double';

// Fake credentials, built at run time (no key-shaped literal in the repository).
const ACCESS_KEY_ID = ['AKID', 'SECRETS', 'TEST01'].join('');
const SECRET_ACCESS_KEY = ['secrets', 'test', 'signing', 'value'].join('/');
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate-provider-keys-AbCdEf';
const PROVIDER_KEY = ['sk', 'provider', 'from', 'secret'].join('-');


let double: SecretsManagerDouble;
let reader: LeanSecretsReader;

beforeEach(async () => {
  double = await startSecretsManagerDouble({ openai: PROVIDER_KEY });
  reader = new LeanSecretsReader(
    { region: 'eu-west-1', endpoint: double.url, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, sessionToken: 'session-token' } },
    { baseDelayMs: 1, inactivityTimeoutMs: 2_000 },
  );
});

afterEach(async () => {
  reader.destroy();
  await double.close();
});

describe('LeanSecretsReader', () => {
  it('sends GetSecretValue signed exactly as the SDK signs it, and returns SecretString', async () => {
    expect(JSON.parse(await reader.secretString(ARN))).toEqual({ openai: PROVIDER_KEY });
    const [req] = double.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/' });
    expect(JSON.parse(req.body)).toEqual({ SecretId: ARN });
    expect(req.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(req.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(req.headers['x-amz-security-token']).toBe('session-token');
    // Re-sign what arrived with the SDK's signer at the request's own date: the same Authorization.
    const amzDate = String(req.headers['x-amz-date']);
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const signed = ['content-type', 'content-length', 'x-amz-target', 'host'];
    const headers = Object.fromEntries(signed.map((h) => [h, String(req.headers[h])]));
    const sdk = await new SignatureV4({
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, sessionToken: 'session-token' },
      region: 'eu-west-1',
      service: 'secretsmanager',
      sha256: Sha256,
    }).sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: '/', query: {}, headers, body: req.body }, { signingDate });
    expect(req.headers.authorization).toBe(sdk.headers.authorization);
    expect(req.headers.authorization).toContain('/eu-west-1/secretsmanager/aws4_request');
  });

  it('decodes SecretBinary as UTF-8 text', async () => {
    double.failNext({ kind: 'binary' });
    expect(JSON.parse(await reader.secretString(ARN))).toEqual({ openai: PROVIDER_KEY });
  });

  it('retries throttling, 5xx and a cut connection, up to 3 attempts in all', async () => {
    double.failNext({ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } }, { kind: 'reset' });
    expect(JSON.parse(await reader.secretString(ARN))).toEqual({ openai: PROVIDER_KEY });
    expect(double.calls).toHaveLength(3);

    double.failNext({ status: 503, body: {} }, { status: 500, body: 'oops' }, { status: 502, body: '<html>bad gateway</html>' }, { status: 200, body: {} });
    const err = await reader.secretString(ARN).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretsManagerError);
    expect(err).toMatchObject({ name: 'Http502', status: 502, retryable: true });
    expect(double.calls).toHaveLength(6);
  });

  it('does not retry what retrying cannot fix, and names the exception (never a value)', async () => {
    double.failNext({ status: 400, body: { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." } });
    const err = (await reader.secretString(ARN).catch((e: unknown) => e)) as SecretsManagerError;
    expect(err).toMatchObject({ name: 'ResourceNotFoundException', status: 400, retryable: false });
    expect(err.message).toBe("Secrets Manager GetSecretValue failed: ResourceNotFoundException (HTTP 400): Secrets Manager can't find the specified secret.");
    expect(double.calls).toHaveLength(1);
  });

  it('gives up on a silent endpoint after its inactivity timeout, each attempt', async () => {
    // Accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const slow = new LeanSecretsReader(
      { region: 'eu-west-1', endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY } },
      { baseDelayMs: 1, inactivityTimeoutMs: 100, maxAttempts: 2 },
    );
    try {
      const started = Date.now();
      await expect(slow.secretString(ARN)).rejects.toMatchObject({ name: 'TimeoutError' });
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(190); // two attempts of 100 ms
      expect(took).toBeLessThan(5_000);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      slow.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('cachedSecretJson', () => {
  it('shares one fetch among concurrent callers and keeps the value for its max age', async () => {
    let now = 1_000;
    // No refresh ahead here: the max age alone.
    const load = cachedSecretJson(() => reader.secretString(ARN), 300_000, () => now, { refreshAheadMs: 0 });
    const values = await Promise.all(Array.from({ length: 20 }, () => load()));
    expect(values.every((v) => v.openai === PROVIDER_KEY)).toBe(true);
    expect(double.calls).toHaveLength(1);
    now += 299_999;
    await load();
    expect(double.calls).toHaveLength(1);
    double.setSecret({ openai: 'rotated' });
    now += 1;
    expect((await load()).openai).toBe('rotated');
    expect(double.calls).toHaveLength(2);
  });

  /** Until `release()`, reads wait before they reach the double (a slow Secrets Manager). */
  function gatedRead() {
    let gate: Promise<void> = Promise.resolve();
    let release = () => undefined as void;
    return {
      read: async () => {
        await gate;
        return reader.secretString(ARN);
      },
      hold: () => (gate = new Promise<void>((r) => (release = r))),
      release: () => release(),
    };
  }
  /** Calls `load` (bounded) until it answers the rotated value, as callers would while a refresh lands. */
  const untilRotated = async (load: () => Promise<Record<string, unknown>>) => {
    for (let i = 0; i < 200 && (await load()).openai !== 'rotated'; i++) await new Promise((r) => setTimeout(r, 5));
    return (await load()).openai;
  };

  it('refreshes a value near its max age in the background: the call that finds it so does not wait', async () => {
    let now = 1_000;
    const g = gatedRead();
    const load = cachedSecretJson(g.read, 300_000, () => now);
    expect((await load()).openai).toBe(PROVIDER_KEY);
    double.setSecret({ openai: 'rotated' });
    g.hold();
    now += 239_999;
    await load(); // not yet within the last fifth of the max age: no refresh
    now += 1;
    // Within it: the value at once, while Secrets Manager has not even been asked yet.
    expect((await load()).openai).toBe(PROVIDER_KEY);
    expect((await load()).openai).toBe(PROVIDER_KEY);
    expect(double.calls).toHaveLength(1);
    g.release();
    expect(await untilRotated(load)).toBe('rotated');
    // One refresh for the callers that found the value near its age, and the refreshed value is fresh.
    now += 200_000;
    await load();
    expect(double.calls).toHaveLength(2);
  });

  it('serves the last value while Secrets Manager fails, without making callers wait on it again, for up to an hour', async () => {
    let now = 1_000;
    const errors: unknown[] = [];
    const load = cachedSecretJson(() => reader.secretString(ARN), 300_000, () => now, { onStaleError: (e) => errors.push(e), retryAfterMs: 10_000 });
    await load();
    double.setSecret({ openai: 'rotated' });
    now += 300_000;
    // Past its max age, the fetch fails (all 3 attempts): the last value, and one error reported.
    double.failNext({ status: 500, body: { __type: 'InternalServiceError', message: 'down' } }, { status: 500, body: { __type: 'InternalServiceError', message: 'down' } }, { status: 500, body: { __type: 'InternalServiceError', message: 'down' } });
    // Two callers wait on the one failed read: both get the last value, and it is reported once.
    const [a, b] = await Promise.all([load(), load()]);
    expect([a.openai, b.openai]).toEqual([PROVIDER_KEY, PROVIDER_KEY]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).not.toContain(PROVIDER_KEY);
    expect(double.calls).toHaveLength(4);
    // Known to be failing: served at once, no new call before retryAfterMs.
    now += 5_000;
    expect((await load()).openai).toBe(PROVIDER_KEY);
    expect(double.calls).toHaveLength(4);
    // Then retried in the background; the caller still does not wait, and the next one has the new value.
    now += 5_000;
    expect((await load()).openai).toBe(PROVIDER_KEY);
    expect(await untilRotated(load)).toBe('rotated');
    expect(double.calls).toHaveLength(5);
  });

  it('fails once the last value is older than the stale bound', async () => {
    let now = 1_000;
    const load = cachedSecretJson(() => reader.secretString(ARN), 300_000, () => now, { maxStaleMs: 3_600_000 });
    await load();
    now += 3_600_000;
    double.failNext({ status: 400, body: { __type: 'AccessDeniedException', message: 'not allowed' } });
    await expect(load()).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('forgets a failed fetch: the next call tries again', async () => {
    const load = cachedSecretJson(() => reader.secretString(ARN), 300_000);
    double.failNext({ status: 400, body: { __type: 'AccessDeniedException', message: 'not allowed' } });
    await expect(load()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect((await load()).openai).toBe(PROVIDER_KEY);
  });

  it('refuses a secret that is not JSON without quoting it', async () => {
    double.setSecret(`not json ${PROVIDER_KEY}`);
    const err = (await cachedSecretJson(() => reader.secretString(ARN), 1000)().catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('InvalidSecretJson');
    expect(err.message).not.toContain(PROVIDER_KEY);
  });
});

describe('leanSecretsSettingsFromEnv', () => {
  const base = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY };

  it("takes Lambda's region and credentials, and the endpoint the SDK would read from the environment", () => {
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_SESSION_TOKEN: 't' })).toEqual({ region: 'eu-west-1', endpoint: undefined, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, sessionToken: 't' } });
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://b' })?.endpoint).toBe('http://b');
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_ENDPOINT_URL: 'http://a' })?.endpoint).toBe('http://a');
    // The DynamoDB endpoint is not Secrets Manager's.
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_ENDPOINT_URL_DYNAMODB: 'http://d' })?.endpoint).toBeUndefined();
  });

  it('leaves to the SDK what only the SDK interprets', () => {
    expect(leanSecretsSettingsFromEnv({ AWS_REGION: 'eu-west-1' })).toBeUndefined();
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_USE_FIPS_ENDPOINT: 'true' })).toBeUndefined();
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_PROFILE: 'dev' })).toBeUndefined();
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_REGION: 'cn-north-1' })).toBeUndefined();
    expect(leanSecretsSettingsFromEnv({ ...base, AWS_REGION: 'cn-north-1', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'https://vpce' })?.endpoint).toBe('https://vpce');
  });
});
