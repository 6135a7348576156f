/**
 * KeepAliveWatch: one lazily re-armed timer per stream. A long wait gets a comment every interval (only
 * while nothing waits unread) and a stalled one is given up; a stream of quick waits arms no timer per wait.
 */
import { KeepAliveWatch, SSE_KEEPALIVE } from '../../../lambda/app/sse-keepalive';

function fakeController(desiredSize = 0) {
  const enqueued: Uint8Array[] = [];
  const controller = {
    desiredSize,
    enqueue: (c: Uint8Array) => enqueued.push(c),
  } as unknown as ReadableStreamDefaultController<Uint8Array>;
  return { controller, enqueued };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('KeepAliveWatch', () => {
  it('sends a comment every interval of a long wait, none for waits shorter than the interval', async () => {
    const { controller, enqueued } = fakeController();
    const watch = new KeepAliveWatch(controller, 40);
    for (let i = 0; i < 5; i++) await watch.wait(sleep(5));
    expect(enqueued).toHaveLength(0);
    await watch.wait(sleep(150));
    expect(enqueued.length).toBeGreaterThanOrEqual(2);
    expect(enqueued.length).toBeLessThanOrEqual(4);
    expect(enqueued.every((c) => c === SSE_KEEPALIVE)).toBe(true);
    watch.stop();
  });

  it('sends nothing while the client has not taken what was sent (desiredSize < 0)', async () => {
    const { controller, enqueued } = fakeController(-1);
    const watch = new KeepAliveWatch(controller, 20);
    await watch.wait(sleep(100));
    expect(enqueued).toHaveLength(0);
    watch.stop();
  });

  it('gives up a stalled wait with the stall error, counting from the start of that wait', async () => {
    const { controller } = fakeController();
    const watch = new KeepAliveWatch(controller, 1_000);
    await watch.wait(sleep(30), { ms: 60, error: () => new Error('stalled') });
    const started = Date.now();
    await expect(watch.wait(new Promise(() => undefined), { ms: 60, error: () => new Error('stalled') })).rejects.toThrow('stalled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    watch.stop();
  });

  it('arms no timer per wait: a thousand quick waits set at most a couple of timers', async () => {
    const { controller } = fakeController();
    const watch = new KeepAliveWatch(controller, 10_000);
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      for (let i = 0; i < 1_000; i++) await watch.wait(Promise.resolve(i), { ms: 60_000, error: () => new Error('stalled') });
      expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      spy.mockRestore();
      watch.stop();
    }
  });
});
