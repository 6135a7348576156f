/**
 * What the gateway bundle's init and its first request run, module by module: the bundle built as the
 * stack builds it but unminified and instrumented (bench/require-breakdown.ts), so each module esbuild
 * wraps is recorded when it runs. The AWS SDK's DynamoDB client (and lib-dynamodb, which builds one per
 * command) must not run at init nor on a cold container's first request: the store's lean client
 * (lambda/store/lean-client.ts) sends with Lambda's environment alone. Its store calls go to DynamoDB
 * Local (AWS_ENDPOINT_URL_DYNAMODB, credentials from the environment as in Lambda).
 */
import { instrumentedGateway } from '../../bench/require-breakdown';
import { functionEnv, PROBE_MARK, runProbe, unknownModelChatEvent, useBundledGateway } from '../support/bundle-probe';

const gw = useBundledGateway('bundle-init', instrumentedGateway);

/**
 * The SDK's DynamoDB client side, and the Smithy runtime every SDK client is built on (nothing else on the
 * init path needs it since the Bedrock client loads its HTTP handler with its SDK): none of it may run
 * before an SDK client is needed.
 */
const SDK_MODULES = ['node_modules/@aws-sdk/client-dynamodb/', 'node_modules/@aws-sdk/lib-dynamodb/', 'lambda/store/lean-sdk.ts', 'node_modules/@smithy/'];

/** A cold container: require the bundle, optionally invoke it once; the modules that ran, and the response. */
function coldContainer(event?: unknown): { ran: string[]; statusCode?: number; body?: string } {
  const invoke = event
    ? `let body = ''; const stream = new Writable({ write(chunk, _enc, cb) { body += chunk; cb(); } });
await handler(${JSON.stringify(event)}, stream, { getRemainingTimeInMillis: () => 300000 });
out.statusCode = stream.metadata.statusCode; out.body = body;`
    : '';
  const script = `const { Writable } = require('node:stream');
(async () => { const { handler } = require(${JSON.stringify(gw.bundle)}); const out = {};
${invoke}
out.ran = [...globalThis.__T.ran];
process.stdout.write(${JSON.stringify(PROBE_MARK)} + JSON.stringify(out), () => process.exit(0)); })();`;
  return runProbe<ReturnType<typeof coldContainer>>(script, functionEnv(gw.tables), gw.stub);
}

const sdkModules = (ran: string[]) => ran.filter((m) => SDK_MODULES.some((p) => m.includes(p)));

describe('Handler: the bundled gateway without the AWS SDK DynamoDB client on its cold path', () => {
  it('requires without running @aws-sdk/client-dynamodb, lib-dynamodb or the Smithy runtime', () => {
    const { ran } = coldContainer();
    expect(ran).toContain('node_modules/@aws-sdk/util-dynamodb/dist-cjs/index.js'); // the lean client's marshalling: it sees packages run
    expect(sdkModules(ran)).toEqual([]);
  });

  it('authenticates a cold request against the store through the lean client alone', () => {
    const res = coldContainer(unknownModelChatEvent(gw.apiKey));
    // 404 for the model: the key was found in the store (an unknown key is a 401).
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body ?? '{}')).toMatchObject({ error: { code: 'model_not_found' } });
    expect(sdkModules(res.ran)).toEqual([]);
  });

  it('ships the SDK’s DynamoDB client and lib-dynamodb as chunks that work together (the lean client’s fallback)', () => {
    const script = `const { createRequire } = require('node:module'); const load = createRequire(${JSON.stringify(gw.bundle)});
const { DynamoDBClient, ConditionalCheckFailedException } = load('@aws-sdk/client-dynamodb');
const { DynamoDBDocumentClient, PutCommand, GetCommand } = load('@aws-sdk/lib-dynamodb');
(async () => {
  const client = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const doc = DynamoDBDocumentClient.from(client);
  await doc.send(new PutCommand({ TableName: ${JSON.stringify(gw.tables.ledger)}, Item: { pk: 'chunk', sk: '1', n: 1 } }));
  const got = await doc.send(new GetCommand({ TableName: ${JSON.stringify(gw.tables.ledger)}, Key: { pk: 'chunk', sk: '1' }, ConsistentRead: true }));
  const failed = await doc.send(new PutCommand({ TableName: ${JSON.stringify(gw.tables.ledger)}, Item: { pk: 'chunk', sk: '1' }, ConditionExpression: 'attribute_not_exists(pk)' })).catch((e) => e);
  const retry = await client.config.retryStrategy();
  const files = Object.keys(require.cache).filter((f) => f.includes('node_modules')).map((f) => f.slice(f.indexOf('node_modules')));
  process.stdout.write(${JSON.stringify(PROBE_MARK)} + JSON.stringify({ item: got.Item, failed: failed instanceof ConditionalCheckFailedException, retry: typeof retry.acquireInitialRetryToken, files }), () => process.exit(0));
})();`;
    const res = runProbe<{ item: unknown; failed: boolean; retry: string; files: string[] }>(script, functionEnv());
    expect(res).toMatchObject({ item: { pk: 'chunk', sk: '1', n: 1 }, failed: true, retry: 'function' });
    // lib-dynamodb's chunk uses the client's chunk, not a copy of its own.
    expect(res.files.sort()).toEqual(['node_modules/@aws-sdk/client-dynamodb/index.js', 'node_modules/@aws-sdk/lib-dynamodb/index.js']);
  });
});
