/**
 * Bytes the full gateway writes to stdout per request (the request's log line and EMF; `cost-model.ts`
 * `logBytesPerRequest` is this plus Lambda's own START/END/REPORT lines):
 *
 *   npx tsx bench/log-bytes.ts [requests=20]
 *
 * The bench's composition (startGatewayUnderTest 'full', telemetry on) and request bodies, in one process
 * with the upstream double; counts what reaches process.stdout.write per streamed and per non-streamed request.
 */
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
import { startGatewayUnderTest } from './gateway/under-test';
import { startUpstreams } from './upstream/upstreams';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20);
  const up = await startUpstreams({ firstByteDelayMs: 1, chunks: Number(process.env.CHUNKS ?? 32), longChunks: 10 });
  const gw = await startGatewayUnderTest({ mode: 'full', upstream: up.urls, telemetry: true });
  const target = makeTarget(gw.url, gw.headers);
  const write = process.stdout.write.bind(process.stdout);
  let bytes = 0;
  let lines = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    bytes += Buffer.byteLength(text);
    lines += text.split('\n').length - 1;
    return true;
  }) as typeof process.stdout.write;
  const results: string[] = [];
  try {
    for (const stream of [true, false]) {
      await timedPost(target, benchChatBody(gw.models.latency, stream), stream);
      await gw.idle();
      [bytes, lines] = [0, 0];
      for (let i = 0; i < n; i++) await timedPost(target, benchChatBody(gw.models.latency, stream), stream);
      await gw.idle();
      results.push(`${stream ? 'streamed' : 'non-streamed'}: ${(bytes / n).toFixed(0)} B and ${(lines / n).toFixed(1)} lines on stdout per request`);
    }
  } finally {
    process.stdout.write = write;
    await gw.close();
    await up.close();
  }
  for (const r of results) console.log(r);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
