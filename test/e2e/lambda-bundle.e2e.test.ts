/**
 * The shipped gateway bundle, not the sources: bundled as the stack bundles it (bench/bundle.ts: esbuild
 * options, baked config, lazy chunks next to it), loaded by a plain `node` with the function's environment
 * and the runtime's `awslambda` global, and invoked with an API Gateway event. Its store calls go to
 * DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB, credentials from the environment as in Lambda). The request
 * names a model the baked config lacks, so it is authenticated against the store and refused before any
 * upstream call (no internet).
 */
import { join } from 'node:path';
import { bundleHandler } from '../../bench/bundle';
import { functionEnv, PROBE_MARK, runProbe, unknownModelChatEvent, useBundledGateway } from '../support/bundle-probe';
import { restProxyEvent } from '../support/lambda-streaming-emulator';

const gw = useBundledGateway('bundle-e2e', async (dir) => (await bundleHandler('lambda/handlers/gateway.ts', dir)).file);

/** One cold container: require the bundle, invoke it once, report the response and the modules it loaded. */
function invokeCold(event: unknown): { metadata: { statusCode: number }; body: string; loaded: string[] } {
  const script = `const MARK = ${JSON.stringify(PROBE_MARK)}; const { Writable } = require('node:stream');
const { handler } = require(${JSON.stringify(gw.bundle)});
let body = '';
const stream = new Writable({ write(chunk, _enc, cb) { body += chunk; cb(); } });
handler(${JSON.stringify(event)}, stream, { getRemainingTimeInMillis: () => 300000 }).then(() => {
  process.stdout.write(MARK + JSON.stringify({ metadata: stream.metadata, body, loaded: Object.keys(require.cache) }), () => process.exit(0));
});`;
  return runProbe<ReturnType<typeof invokeCold>>(script, functionEnv(gw.tables), gw.stub);
}

describe('Handler: the bundled gateway in a cold container', () => {
  it('authenticates against the store and answers in OpenAI\'s error shape, loading no lazy chunk on the way', () => {
    const res = invokeCold(unknownModelChatEvent(gw.apiKey));
    expect(res.metadata.statusCode).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
    // Role credentials from the environment: none of the SDK's other credential providers (chunks) loaded;
    // at most the tokenizer, which the handler starts loading after its first response.
    const chunks = res.loaded.filter((file) => file.startsWith(join(gw.dir, 'node_modules')));
    expect(chunks.filter((file) => !file.includes('/gpt-tokenizer/'))).toEqual([]);
  });

  it('refuses an unknown key the same way the sources do (401, authentication_error)', () => {
    const res = invokeCold(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: 'Bearer tg_nope' }, body: '{}' }));
    expect(res.metadata.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.type).toBe('authentication_error');
  });
});
