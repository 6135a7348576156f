/**
 * The floor under "CPU per request": what the same sequential streamed requests cost in a Node process
 * that does nothing but relay them (no auth, no routing, no metering), so the gateway's number can be
 * read against what Node's HTTP stack alone costs on this machine:
 *
 *   npx tsx bench/relay-floor.ts [requests=400]
 *
 * `npm run bench` runs the `sse` relay as a path of its own (startFloorRelay), in the same interleaving and
 * concurrency scenarios as the gateway: the floor of every issue-13 target, c=16 and c=64 included.
 *
 * Relays measured, each in its own child process, against the bench's upstream double (20 ms to the first
 * byte, 32 chunks):
 * - `pipe`: node:http server → node:http keep-alive client, upstream body piped to the client as is;
 * - `sse`: the same, but every SSE event parsed (eventsource-parser), JSON-parsed and re-serialised, as a
 *   metering relay must read usage and text from each chunk (a JSON answer: parsed and re-serialised whole).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchChatBody } from './harness';
import { makeTarget, timedPost } from './http-client';
import { median } from './stats';
import { startUpstreams } from './upstream/upstreams';

const CHILD = String.raw`
const http = require('node:http');
const { createParser } = require(process.env.PARSER);
const mode = process.env.MODE;
const upstream = new URL(process.env.UPSTREAM);
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const up = http.request(upstream, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (u) => {
      res.writeHead(u.statusCode, { 'content-type': u.headers['content-type'] || 'application/json' });
      if (mode === 'pipe') return void u.pipe(res);
      if (!String(u.headers['content-type']).startsWith('text/event-stream')) {
        // A JSON answer: read whole, parsed and re-serialised (a metering relay reads its usage).
        const body = [];
        u.on('data', (c) => body.push(c));
        u.on('end', () => res.end(JSON.stringify(JSON.parse(Buffer.concat(body).toString('utf8')))));
        return;
      }
      const out = [];
      const parser = createParser({ onEvent: (e) => { out.push(e.data === '[DONE]' ? 'data: [DONE]\n\n' : 'data: ' + JSON.stringify(JSON.parse(e.data)) + '\n\n'); } });
      u.setEncoding('utf8');
      u.on('data', (t) => { parser.feed(t); if (out.length) { res.write(out.join('')); out.length = 0; } });
      u.on('end', () => res.end());
    });
    up.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => { if (m === 'cpu') { const u = process.cpuUsage(); process.send({ cpu: u.user + u.system }); } });
`;

interface FloorResult {
  cpuMs: number;
  addedTtftP50: number;
}

/** A bare relay in a child process of its own, in front of `upstreamUrl`; `npm run bench` runs one as a path. */
export interface FloorRelay {
  url: string;
  cpuMicros(): Promise<number>;
  close(): void;
}

export async function startFloorRelay(
  mode: 'pipe' | 'sse',
  upstreamUrl: string,
  opts: { execArgv?: string[]; onStdoutLine?: (line: string) => void; execPath?: string } = {},
): Promise<FloorRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-floor-'));
  const file = join(dir, 'relay.cjs');
  writeFileSync(file, CHILD);
  const child: ChildProcess = fork(file, [], {
    execArgv: opts.execArgv ?? [],
    ...(opts.execPath ? { execPath: opts.execPath } : {}),
    env: { ...process.env, MODE: mode, UPSTREAM: upstreamUrl, PARSER: require.resolve('eventsource-parser') },
    stdio: ['ignore', opts.onStdoutLine ? 'pipe' : 'inherit', 'inherit', 'ipc'],
  });
  if (opts.onStdoutLine && child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', opts.onStdoutLine);
  const close = () => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [{ port }] = (await once(child, 'message')) as [{ port: number }];
    return {
      url: `http://127.0.0.1:${port}/v1/chat/completions`,
      cpuMicros: async () => {
        child.send('cpu');
        const [m] = (await once(child, 'message')) as [{ cpu: number }];
        return m.cpu;
      },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
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
    relay.close();
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
