/**
 * The shutdown-signal extension (lambda/layers/shutdown-signal/extensions/tollgate-shutdown-signal), the
 * file Lambda runs from /opt/extensions, run as Lambda runs it: an executable with AWS_LAMBDA_RUNTIME_API
 * pointing at a double of the Extensions API on loopback (its register and next calls, the headers Lambda
 * checks, a next that blocks until the environment is retired). Both ways it speaks HTTP: bash's /dev/tcp,
 * and the Node fallback for a bash without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTENSION_ID, startExtensionsApi } from '../../doubles/extensions-api-double';

jest.setTimeout(20_000);

const SCRIPT = join(__dirname, '..', '..', '..', 'lambda', 'layers', 'shutdown-signal', 'extensions', 'tollgate-shutdown-signal');
let dir: string;
let extension: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  // As in the layer: /opt/extensions/<name>, run by its path, registered under its file name.
  dir = mkdtempSync(join(tmpdir(), 'tollgate-extension-'));
  extension = join(dir, 'tollgate-shutdown-signal');
  copyFileSync(SCRIPT, extension);
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(api: string, env: Record<string, string> = {}) {
  const child = spawn(extension, [], { env: { PATH: process.env.PATH ?? '', AWS_LAMBDA_RUNTIME_API: api, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

it('is executable, as Lambda needs it to be', () => {
  expect(statSync(SCRIPT).mode & 0o111).toBe(0o111);
});

describe.each([
  // No Node on its PATH (nor /var/lang/bin/node here): bash alone must do it.
  ['bash /dev/tcp', { PATH: '/nonexistent' }],
  ['the Node fallback', { TOLLGATE_EXTENSION_USE_NODE: '1' }],
])('the shutdown-signal extension over %s', (_how, env: Record<string, string>) => {
  it('registers for SHUTDOWN under its file name, waits on next with its identifier, and exits 0 when the environment is retired', async () => {
    const api = await startExtensionsApi();
    try {
      const ext = run(api.api, env);
      await api.nextSeen;
      expect(api.calls).toHaveLength(2);
      const [register, next] = api.calls;
      expect(register).toMatchObject({ method: 'POST', url: '/2020-01-01/extension/register' });
      expect(register.headers['lambda-extension-name']).toBe('tollgate-shutdown-signal');
      expect(JSON.parse(register.body)).toEqual({ events: ['SHUTDOWN'] });
      expect(next).toMatchObject({ method: 'GET', url: '/2020-01-01/extension/event/next' });
      expect(next.headers['lambda-extension-identifier']).toBe(EXTENSION_ID);

      // Still waiting: it only leaves when Lambda retires the environment.
      await new Promise((r) => setTimeout(r, 150));
      expect(ext.child.exitCode).toBeNull();
      api.retire();
      expect(await ext.exited).toBe(0);
      expect(ext.stderr()).toBe('');
    } finally {
      await api.close();
    }
  });

  it('waits past an event it did not register for, and still leaves on SHUTDOWN', async () => {
    const api = await startExtensionsApi({ before: [{ eventType: 'INVOKE', requestId: 'r1', deadlineMs: Date.now() + 1000 }] });
    try {
      const ext = run(api.api, env);
      await api.nextSeen;
      expect(api.calls.map((c) => c.url)).toEqual(['/2020-01-01/extension/register', '/2020-01-01/extension/event/next', '/2020-01-01/extension/event/next']);
      api.retire();
      expect(await ext.exited).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('exits 0 on SIGTERM while it waits (Lambda ending the environment)', async () => {
    const api = await startExtensionsApi();
    try {
      const ext = run(api.api, env);
      await api.nextSeen;
      ext.child.kill('SIGTERM');
      expect(await ext.exited).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('exits non-zero and says why when registration is refused (Lambda reports the extension as failed)', async () => {
    const api = await startExtensionsApi({ registerStatus: 403 });
    try {
      const ext = run(api.api, env);
      expect(await ext.exited).toBe(1);
      expect(ext.stderr()).toMatch(/tollgate-shutdown-signal.*register answered 403/);
      expect(api.calls).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});

it('exits non-zero when there is no Extensions API to talk to', async () => {
  const ext = run('127.0.0.1:1');
  expect(await ext.exited).toBe(1);
  expect(ext.stderr()).toMatch(/tollgate-shutdown-signal/);
});
