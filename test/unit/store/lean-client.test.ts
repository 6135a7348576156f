/**
 * The lean client's settings from Lambda's environment (lambda/store/lean-client.ts): what it takes, what
 * it leaves to the SDK, and the endpoint it derives, checked against the SDK's own endpoint rules.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoSockets } from '../../../lambda/store/dynamo';
import { LeanDynamoClient, leanSettingsFromEnv, type AwsEnv } from '../../../lambda/store/lean-client';

// Fake credentials, built at run time (no key-shaped literal in the repository).
const KEY = ['AKID', 'ENVTEST'].join('');
const SECRET = ['env', 'secret'].join('/');
const LAMBDA: AwsEnv = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: KEY, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: 'token' };

describe('Function: leanSettingsFromEnv', () => {
  const sockets = dynamoSockets();
  afterAll(() => {
    sockets.httpAgent.destroy();
    sockets.httpsAgent.destroy();
  });

  it('takes region and the role’s credentials as Lambda sets them', () => {
    expect(leanSettingsFromEnv(LAMBDA, sockets)).toEqual({ region: 'eu-west-1', endpoint: undefined, credentials: { accessKeyId: KEY, secretAccessKey: SECRET, sessionToken: 'token' }, sockets });
    expect(leanSettingsFromEnv({ ...LAMBDA, AWS_SESSION_TOKEN: undefined }, sockets)?.credentials).toEqual({ accessKeyId: KEY, secretAccessKey: SECRET, sessionToken: undefined });
  });

  it('takes the endpoint the SDK reads from the environment, the service’s first', () => {
    expect(leanSettingsFromEnv({ ...LAMBDA, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }, sockets)?.endpoint).toBe('http://127.0.0.1:1');
    expect(leanSettingsFromEnv({ ...LAMBDA, AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:2' }, sockets)?.endpoint).toBe('http://127.0.0.1:2');
    // Any region goes with an explicit endpoint (DynamoDB Local's "local").
    expect(leanSettingsFromEnv({ ...LAMBDA, AWS_REGION: 'local', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:2' }, sockets)?.region).toBe('local');
  });

  it.each<[string, AwsEnv]>([
    ['no region', { ...LAMBDA, AWS_REGION: undefined }],
    ['no credentials in the environment', { AWS_REGION: 'eu-west-1' }],
    ['a key without its secret', { ...LAMBDA, AWS_SECRET_ACCESS_KEY: '' }],
    ['a China region', { ...LAMBDA, AWS_REGION: 'cn-north-1' }],
    ['a GovCloud region', { ...LAMBDA, AWS_REGION: 'us-gov-west-1' }],
    ['an ISO region', { ...LAMBDA, AWS_REGION: 'us-iso-east-1' }],
    ['FIPS endpoints', { ...LAMBDA, AWS_USE_FIPS_ENDPOINT: 'true' }],
    ['dual-stack endpoints', { ...LAMBDA, AWS_USE_DUALSTACK_ENDPOINT: 'true' }],
    ['configured endpoints ignored', { ...LAMBDA, AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }],
    ['an account id (account-based endpoints)', { ...LAMBDA, AWS_ACCOUNT_ID: '123456789012' }],
    ['adaptive retries', { ...LAMBDA, AWS_RETRY_MODE: 'adaptive' }],
    ['a profile', { ...LAMBDA, AWS_PROFILE: 'dev' }],
  ])('leaves the client to the SDK with %s', (_name, env) => {
    expect(leanSettingsFromEnv(env, sockets)).toBeUndefined();
  });

  it.each(['us-east-1', 'us-west-2', 'eu-central-2', 'ap-southeast-5', 'il-central-1', 'mx-central-1', 'ca-west-1', 'sa-east-1', 'me-south-1', 'af-south-1'])(
    'sends to the endpoint the SDK’s rules give for %s',
    async (region) => {
      const settings = leanSettingsFromEnv({ ...LAMBDA, AWS_REGION: region }, sockets);
      if (!settings) throw new Error(`${region}: no lean settings`);
      const lean = new LeanDynamoClient(settings);
      const sdk = new DynamoDBClient({ region, credentials: { accessKeyId: KEY, secretAccessKey: SECRET } });
      try {
        const expected = sdk.config.endpointProvider({ Region: region, UseFIPS: false, UseDualStack: false }).url.href;
        expect((await lean.connection.target()).url.href).toBe(expected);
        expect(lean.sdkIfMade()).toBeUndefined();
      } finally {
        sdk.destroy();
      }
    },
  );
});

describe('Function: storeClient (the Lambda runtime’s store client)', () => {
  it('is a lean client from Lambda’s environment, and the SDK’s client when the environment asks for what only the SDK reads', async () => {
    const { storeClient } = await import('../../../lambda/handlers/lambda-runtime');
    const lean = storeClient({ ...LAMBDA, TOLLGATE_KEYS_TABLE: 'k', TOLLGATE_LEDGER_TABLE: 'l' });
    expect(lean).toBeInstanceOf(LeanDynamoClient);
    expect((lean as LeanDynamoClient).sdkIfMade()).toBeUndefined();
    (lean as LeanDynamoClient).destroy();
    // (The SDK client reads the process's environment itself, as in Lambda, where both are the same.)
    const sdk = storeClient({ ...LAMBDA, AWS_USE_FIPS_ENDPOINT: 'true' });
    expect(sdk).toBeInstanceOf(DynamoDBClient);
    (sdk as DynamoDBClient).destroy();
  });
});
