import { startAnthropicDouble } from '../../doubles/anthropic-double';
import { startOpenAIDouble } from '../../doubles/openai-double';

describe('Double: http-double machinery', () => {
  it('plays the script in order, then the default', async () => {
    const double = await startOpenAIDouble({ default: { kind: 'status', status: 503 }, script: [{ kind: 'ok', text: 'first' }] });
    try {
      const post = () => fetch(`${double.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
      expect((await post()).status).toBe(200);
      expect((await post()).status).toBe(503);
      double.setScript({ kind: 'status', status: 429 });
      expect((await post()).status).toBe(429);
      expect(double.requests.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions']);
    } finally {
      await double.close();
    }
  });

  it('waits delayMs before the first byte', async () => {
    const double = await startAnthropicDouble({ delayMs: 150 });
    try {
      const started = Date.now();
      const res = await fetch(`${double.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'c', messages: [] }) });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      await double.close();
    }
  });

  it('counts client aborts and ends hanging requests when it closes', async () => {
    const double = await startOpenAIDouble({ default: { kind: 'hang' } });
    const controller = new AbortController();
    const aborted = fetch(`${double.url}/v1/chat/completions`, { method: 'POST', body: '{}', signal: controller.signal }).catch((e: unknown) => e);
    const leftHanging = fetch(`${double.url}/v1/chat/completions`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    await double.waitForRequests(2);
    controller.abort();
    await double.waitForAbort(0);
    expect(double.abortedCount()).toBe(1);
    await double.close();
    expect(await leftHanging).toMatchObject({ message: expect.any(String) });
    expect(await aborted).toMatchObject({ name: 'AbortError' });
    expect(double.abortedCount()).toBe(1);
  });
});
