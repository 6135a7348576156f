/**
 * A cold container end to end, before and after, in one run: require the gateway bundle and serve its first
 * request, to the response's last byte.
 *
 *   npx tsx bench/cold-request.ts <git-ref> [runs=15] [gpt|nova|both=both]
 *
 * What bench/cold-compare.ts measures (the require) is half of a cold start; the first request then loads
 * whatever the init left for later (an SDK client, a chunk). Here both sides bake the same config (an
 * OpenAI-compatible target `gpt` on a loopback double whose key is read from a Secrets Manager double, and
 * a Bedrock target `nova` on a Bedrock double), authenticate against an in-memory store (dynalite), and
 * each cold container is a fresh `node` with the function's environment and the runtime's `awslambda`
 * stubbed, invoked once with a streamed chat request. The ref's bundle is built by its own bench/bundle.ts
 * from its tree with the config written over its tollgate.config.json; this tree's by bundleHandler with
 * the config. The two sides alternate, and which goes first alternates too. Prints medians per side of:
 * require, first request (require's end → the response's last byte), their sum, and the handler's return
 * (which includes after-invocation work, e.g. the tokenizer chunk a container loads after its first response).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../lambda/core/config';
import { openLocalStore } from '../lambda/local/embedded-dynamo';
import { KeyStore } from '../lambda/store/key-store';
import { startBedrockDouble } from '../test/doubles/bedrock-double';
import { doublesConfig } from '../test/doubles/doubles-config';
import { startOpenAIDouble } from '../test/doubles/openai-double';
import { startSecretsManagerDouble } from '../test/doubles/secrets-manager-double';
import { restProxyEvent } from '../test/support/lambda-streaming-emulator';
import { AWSLAMBDA_STUB, bundleHandler, LAMBDA_ENV } from './bundle';
import { extractTree } from './git-tree';
import { summarize } from './stats';

const GATEWAY = 'lambda/handlers/gateway.ts';

interface Sample {
  status: number;
  complete: boolean;
  requireMs: number;
  firstRequestMs: number;
  handlerMs: number;
}

/** One cold container: require, one invocation; times from the require's start. */
function coldRequest(bundle: string, stub: string, event: unknown, env: NodeJS.ProcessEnv): Promise<Sample> {
  const script = `const { Writable } = require('node:stream');
(async () => {
  const t0 = performance.now(); const { handler } = require(${JSON.stringify(bundle)}); const t1 = performance.now();
  let body = ''; let tEnd = 0;
  const stream = new Writable({ write(c, _e, cb) { body += c; cb(); }, final(cb) { tEnd = performance.now(); cb(); } });
  await handler(${JSON.stringify(event)}, stream, { getRemainingTimeInMillis: () => 300000 });
  const t2 = performance.now();
  process.stdout.write('\\n@@' + JSON.stringify({ status: stream.metadata.statusCode, complete: body.includes('[DONE]'), requireMs: t1 - t0, firstRequestMs: tEnd - t1, handlerMs: t2 - t0 }), () => process.exit(0));
})();`;
  return new Promise((res, rej) =>
    execFile(process.execPath, ['--require', stub, '-e', script], { env, maxBuffer: 1 << 26 }, (err, out, stderr) => {
      if (err) return rej(new Error(`cold container failed: ${stderr.slice(0, 2000)}`));
      res(JSON.parse(out.slice(out.lastIndexOf('\n@@') + 3)) as Sample);
    }),
  );
}

async function main(): Promise<void> {
  const [ref, runsArg, which = 'both'] = process.argv.slice(2);
  if (!ref) throw new Error('usage: npx tsx bench/cold-request.ts <git-ref> [runs] [gpt|nova|both]');
  const runs = Number(runsArg ?? 15);
  const models = which === 'both' ? ['gpt', 'nova'] : [which];
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cold-request-'));
  const store = await openLocalStore();
  const [openai, bedrock, secrets] = await Promise.all([startOpenAIDouble(), startBedrockDouble(), startSecretsManagerDouble({ openai: 'bench-provider-key' })]);
  try {
    const { apiKey } = await new KeyStore({ client: store.client, table: store.tables.keys }).create({ name: 'cold-request' });
    const config = doublesConfig({ openai: openai.url, bedrock: bedrock.url });
    const before = extractTree(ref, join(dir, 'before-src'));
    writeFileSync(join(before, 'tollgate.config.json'), JSON.stringify(config));
    const beforeBench = (await import(join(before, 'bench', 'bundle.ts'))) as { bundleHandler: typeof bundleHandler };
    const built = {
      before: (await beforeBench.bundleHandler(GATEWAY, join(dir, 'before'))).file,
      after: (await bundleHandler(GATEWAY, join(dir, 'after'), { config: parseConfig(config) })).file,
    };
    const stub = join(dir, 'awslambda-stub.cjs');
    writeFileSync(stub, AWSLAMBDA_STUB);
    const env = {
      ...LAMBDA_ENV,
      TOLLGATE_KEYS_TABLE: store.tables.keys,
      TOLLGATE_LEDGER_TABLE: store.tables.ledger,
      AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
      AWS_ACCESS_KEY_ID: store.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    };
    const out: Record<string, unknown> = { ref, runs };
    for (const model of models) {
      const event = restProxyEvent({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hello' }] }),
      });
      const samples: Record<'before' | 'after', Sample[]> = { before: [], after: [] };
      for (let i = 0; i < runs; i++) {
        for (const side of i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) samples[side].push(await coldRequest(built[side], stub, event, env));
      }
      const side = (s: Sample[]) => {
        if (!s.every((x) => x.status === 200 && x.complete)) throw new Error(`a cold request failed: ${JSON.stringify(s.find((x) => x.status !== 200 || !x.complete))}`);
        const p50 = (f: (x: Sample) => number) => Math.round(summarize(s.map(f)).p50 * 10) / 10;
        return { requireMs: p50((x) => x.requireMs), firstRequestMs: p50((x) => x.firstRequestMs), toLastByteMs: p50((x) => x.requireMs + x.firstRequestMs), handlerReturnedMs: p50((x) => x.handlerMs) };
      };
      const b = side(samples.before);
      const a = side(samples.after);
      out[model] = { before: b, after: a, ratioToLastByte: Math.round((a.toLastByteMs / b.toLastByteMs) * 100) / 100 };
    }
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await Promise.all([openai.close(), bedrock.close(), secrets.close(), store.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
