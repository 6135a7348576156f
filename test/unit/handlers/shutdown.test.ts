/**
 * The gateway container's SIGTERM handler (lambda/handlers/shutdown.ts) against a stand-in process: what it
 * logs and when it exits for each way the give-back can end. The real signal, store and leases:
 * test/e2e/lambda-shutdown.e2e.test.ts.
 */
import { EventEmitter } from 'node:events';
import { installShutdownHandler } from '../../../lambda/handlers/shutdown';

function harness(releaseLeases: () => Promise<number>, deadlineMs = 50) {
  const proc = new EventEmitter() as EventEmitter & { exit: jest.Mock };
  const exited = new Promise<number>((resolve) => (proc.exit = jest.fn((code: number) => resolve(code)) as jest.Mock));
  const lines: string[] = [];
  const flushTelemetry = jest.fn();
  installShutdownHandler({ releaseLeases, flushTelemetry }, { process: proc as unknown as NodeJS.Process, deadlineMs, log: (l) => lines.push(l) });
  return { proc, exited, lines, flushTelemetry, logged: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('installShutdownHandler', () => {
  it('does nothing before SIGTERM', async () => {
    const release = jest.fn(async () => 0);
    const h = harness(release);
    await new Promise((r) => setTimeout(r, 80));
    expect(release).not.toHaveBeenCalled();
    expect(h.proc.exit).not.toHaveBeenCalled();
  });

  it('gives the leases back, publishes metrics, logs one INFO line and exits 0', async () => {
    const h = harness(async () => 0);
    h.proc.emit('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(h.flushTelemetry).toHaveBeenCalledTimes(1);
    expect(h.logged()).toEqual([expect.objectContaining({ level: 'INFO', message: 'shutdown: admission leases given back' })]);
  });

  it('says how many leases were left to the sweeper when some were not given back', async () => {
    const h = harness(async () => 2);
    h.proc.emit('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(h.logged()).toEqual([expect.objectContaining({ level: 'WARN', reason: 'in use by a request in flight, or a store error', leases: 2 })]);
  });

  it('exits at the deadline when the store does not answer, once, even if the give-back lands later', async () => {
    let land: (n: number) => void = () => undefined;
    const h = harness(() => new Promise<number>((r) => (land = r)), 30);
    h.proc.emit('SIGTERM');
    h.proc.emit('SIGTERM'); // a second signal is not a second shutdown
    expect(await h.exited).toBe(0);
    land(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.proc.exit).toHaveBeenCalledTimes(1);
    expect(h.flushTelemetry).toHaveBeenCalledTimes(1);
    expect(h.logged()).toEqual([expect.objectContaining({ level: 'WARN', reason: 'the store did not answer within 30 ms' })]);
  });

  it('still exits when the give-back throws', async () => {
    const h = harness(async () => {
      throw new Error('boom');
    });
    h.proc.emit('SIGTERM');
    expect(await h.exited).toBe(0);
    expect(h.logged()[0]).toMatchObject({ level: 'WARN', reason: 'Error: boom' });
  });
});
