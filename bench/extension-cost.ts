/**
 * What the shutdown-signal extension (lambda/layers/shutdown-signal) costs a container: wall time, peak RSS
 * and CPU of one whole life (register, wait on next, SHUTDOWN, exit) against the Extensions API double
 * (test/doubles/extensions-api-double.ts) answering next with SHUTDOWN at once. Lambda starts extensions
 * before the runtime, so its start-up is on every cold start. Both of its ways: bash over /dev/tcp (what runs) and the Node fallback.
 *
 *   npx tsx bench/extension-cost.ts [runs=5]      (needs GNU time at /usr/bin/time)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startExtensionsApi } from '../test/doubles/extensions-api-double';

const EXTENSION = join(__dirname, '..', 'lambda', 'layers', 'shutdown-signal', 'extensions', 'tollgate-shutdown-signal');

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const api = await startExtensionsApi({ retireAtOnce: true });
  try {
    for (const [how, env] of [
      ['bash /dev/tcp', {}],
      ['Node fallback', { TOLLGATE_EXTENSION_USE_NODE: '1' }],
    ] as const) {
      for (let i = 0; i < runs; i++) {
        const child = spawn('/usr/bin/time', ['-f', '%e s wall, %M KB peak RSS, %U + %S s CPU', EXTENSION], { env: { AWS_LAMBDA_RUNTIME_API: api.api, PATH: process.env.PATH ?? '', ...env } });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const code = await new Promise<number | null>((r) => child.on('exit', r));
        console.log(`${how}: ${err.trim().split('\n').pop()}${code === 0 ? '' : ` (exit ${code})`}`);
      }
    }
  } finally {
    await api.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
