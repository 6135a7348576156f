/**
 * The floor under "CPU per request": what the same sequential streamed requests cost in a Node process
 * that does nothing but relay them (no auth, no routing, no metering), so the gateway's number can be
 * read against what Node's HTTP stack alone costs on this machine:
 *
 *   npx tsx bench/relay-floor.ts [requests=400]
 *
 * `npm run bench` runs the `sse` relay as a path of its own (bench/floor.ts), in the same interleaving and
 * concurrency scenarios as the gateway: the floor of every issue-13 target, c=16 and c=64 included; and the
 * same relay with the request path's two store writes as another.
 *
 * Relays measured, each in its own child process (bench/processes/floor-process.ts), against the bench's
 * upstream double (20 ms to the first byte, 32 chunks):
 * - `pipe`: node:http server → node:http keep-alive client, upstream body piped to the client as is;
 * - `sse`: the same, but every SSE event parsed (eventsource-parser), JSON-parsed and re-serialised, as a
 *   metering relay must read usage and text from each chunk (a JSON answer: parsed and re-serialised whole).
 */
import { startFloorRelay } from './floor';
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
import { median } from './stats';
import { startUpstreams } from './upstream/upstreams';

interface FloorResult {
  cpuMs: number;
  addedTtftP50: number;
}

async function measure(mode: 'pipe' | 'sse', upstreamUrl: string, n: number): Promise<FloorResult> {
  const relay = await startFloorRelay(mode, upstreamUrl);
  try {
    const target = makeTarget(relay.url);
    const body = benchChatBody('bench-model', true);
    for (let i = 0; i < 100; i++) await timedPost(target, body, true);
    const direct = makeTarget(upstreamUrl);
    const before = await relay.cpuMicros();
    let ok = 0;
    const relayed: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = await timedPost(target, body, true);
      if (t.status === 200) ok++;
      relayed.push(t.ttftMs);
    }
    const after = await relay.cpuMicros();
    const straight: number[] = [];
    for (let i = 0; i < n; i++) straight.push((await timedPost(direct, body, true)).ttftMs);
    return { cpuMs: (after - before) / 1000 / Math.max(1, ok), addedTtftP50: median(relayed) - median(straight) };
  } finally {
    await relay.close();
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 400);
  const up = await startUpstreams({ firstByteDelayMs: 20, chunks: 32, longChunks: 10 });
  try {
    const url = `${up.urls.openai}/v1/chat/completions`;
    for (const mode of ['pipe', 'sse'] as const) {
      const r = await measure(mode, url, n);
      console.log(`${mode}: ${r.cpuMs.toFixed(2)} ms CPU per streamed request, added TTFT p50 ${r.addedTtftP50.toFixed(2)} ms (${n} sequential)`);
    }
  } finally {
    await up.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
