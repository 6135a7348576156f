/**
 * What the shutdown-signal extension (lambda/layers/shutdown-signal) costs a container: wall time, peak RSS
 * and CPU of one whole life (register, wait on next, SHUTDOWN, exit) against an Extensions API double on
 * loopback that answers next at once. Lambda starts extensions before the runtime, so its start-up is on
 * every cold start. Both of its ways: bash over /dev/tcp (what runs) and the Node fallback.
 *
 *   npx tsx bench/extension-cost.ts [runs=5]      (needs GNU time at /usr/bin/time)
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const EXTENSION = join(__dirname, '..', 'lambda', 'layers', 'shutdown-signal', 'extensions', 'tollgate-shutdown-signal');

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/register')) res.writeHead(200, { 'Lambda-Extension-Identifier': 'bench' }).end('{}');
      else res.writeHead(200).end(JSON.stringify({ eventType: 'SHUTDOWN', shutdownReason: 'spindown' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const api = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const [how, env] of [
      ['bash /dev/tcp', {}],
      ['Node fallback', { TOLLGATE_EXTENSION_USE_NODE: '1' }],
    ] as const) {
      for (let i = 0; i < runs; i++) {
        const child = spawn('/usr/bin/time', ['-f', '%e s wall, %M KB peak RSS, %U + %S s CPU', EXTENSION], { env: { AWS_LAMBDA_RUNTIME_API: api, PATH: process.env.PATH ?? '', ...env } });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const code = await new Promise<number | null>((r) => child.on('exit', r));
        console.log(`${how}: ${err.trim().split('\n').pop()}${code === 0 ? '' : ` (exit ${code})`}`);
      }
    }
  } finally {
    server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
