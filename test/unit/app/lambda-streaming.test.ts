/**
 * The Lambda streaming handler, driven through an emulation of the runtime's streaming contract
 * (JSON prelude, 8 NUL bytes, body) with API Gateway REST proxy events.
 */
import { Writable } from 'node:stream';
import { createGatewayApp } from '../../../lambda/app/gateway-app';
import { parseConfig } from '../../../lambda/core/config';
import type { RequestOutcome } from '../../../lambda/core/gatekeeper';
import type { ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { createStreamingHandler, DEADLINE_MARGIN_MS } from '../../../lambda/handlers/lambda-streaming';
import type { ProviderAdapter } from '../../../lambda/providers/types';
import { awsLambdaEmulation, captureStream, restProxyEvent } from '../../support/lambda-streaming-emulator';

const config = parseConfig({
  providers: { up: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' } },
  models: { chat: { targets: [{ provider: 'up', model: 'up-model' }] } },
});

const chunk = (content: string): ChatCompletionChunk => ({
  id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

let upstreamAborted = false;
let words = ['one ', 'two ', 'three'];
let chunkDelayMs = 20;
const adapter: ProviderAdapter = {
  id: 'up',
  chat: async () => ({ id: 'x', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'hi there' }, finish_reason: 'stop' }] }),
  async *chatStream(call) {
    try {
      for (const word of words) {
        await new Promise((r) => setTimeout(r, chunkDelayMs));
        if (call.signal.aborted) throw new Error('aborted');
        yield chunk(word);
      }
      yield { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [], usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } };
    } finally {
      upstreamAborted = call.signal.aborted;
    }
  },
};

function makeHandler(outcomes: RequestOutcome[], settleDelayMs = 0) {
  const app = createGatewayApp({
    config,
    adapters: new Map([['up', adapter]]),
    providerKeys: { get: async () => undefined },
    gatekeeper: {
      admit: async () => ({
        attribution: { keyId: 'k' },
        headers: {},
        settle: async (o) => {
          await new Promise((r) => setTimeout(r, settleDelayMs));
          outcomes.push(o);
        },
      }),
    },
  });
  return createStreamingHandler(app, awsLambdaEmulation);
}

describe('Handler: Lambda streaming adapter', () => {
  it('writes the prelude, the NUL delimiter, then SSE chunks one write at a time', async () => {
    const outcomes: RequestOutcome[] = [];
    const cap = captureStream();
    const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'count' }] });
    await makeHandler(outcomes)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body }), cap.stream);
    const res = cap.result();
    expect(res.prelude.statusCode).toBe(200);
    expect(res.prelude.headers?.['content-type']).toMatch(/^text\/event-stream/);
    const events = res.body.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, 3).map((e) => JSON.parse(e.slice(6)).choices[0].delta.content)).toEqual(['one ', 'two ', 'three']);
    // Flushed chunk by chunk: each SSE event is its own write, spread over time, not one buffered blob.
    const bodyWrites = res.writes.slice(2);
    expect(bodyWrites.length).toBeGreaterThanOrEqual(4);
    expect(bodyWrites.at(-2)!.at - bodyWrites[0].at).toBeGreaterThanOrEqual(30);
    expect(res.ended).toBe(true);
  });

  it('does not return before settlement has finished (the container must not freeze mid-write)', async () => {
    const outcomes: RequestOutcome[] = [];
    const cap = captureStream();
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    await makeHandler(outcomes, 50)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body, base64: true }), cap.stream);
    expect(JSON.parse(cap.result().body).choices[0].message.content).toBe('hi there');
    expect(outcomes).toHaveLength(1);
  });

  it('answers bad input with an OpenAI error prelude and body', async () => {
    const cap = captureStream();
    await makeHandler([])(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body: 'not json' }), cap.stream);
    const res = cap.result();
    expect(res.prelude.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_json');
  });

  it('refuses a body in the event larger than the limit with 413, whatever content-length says, and calls no upstream', async () => {
    const small = parseConfig({
      providers: { up: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' } },
      models: { chat: { targets: [{ provider: 'up', model: 'up-model' }] } },
      server: { maxBodyBytes: 1024 },
    });
    let calls = 0;
    const app = createGatewayApp({
      config: small,
      adapters: new Map([['up', { ...adapter, chat: async (...a: Parameters<NonNullable<ProviderAdapter['chat']>>) => (calls++, adapter.chat!(...a)) }]]),
      providerKeys: { get: async () => undefined },
      gatekeeper: { admit: async () => ({ attribution: { keyId: 'k' }, headers: {}, settle: async () => undefined }) },
    });
    // Multi-byte characters: 600 of them are 1,200 bytes, under the limit in UTF-16 code units, over it in bytes.
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'é'.repeat(600) }] });
    for (const base64 of [false, true]) {
      const cap = captureStream();
      await createStreamingHandler(app, awsLambdaEmulation)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body, base64, headers: { 'content-length': '10' } }), cap.stream);
      const res = cap.result();
      expect(res.prelude.statusCode).toBe(413);
      expect(JSON.parse(res.body).error.type).toBe('invalid_request_error');
    }
    expect(calls).toBe(0);
  });

  it('decodes a base64 body that is not UTF-8 as U+FFFD and answers 400, not 500', async () => {
    const cap = captureStream();
    const event = restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body: 'x' });
    event.body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64');
    event.isBase64Encoded = true;
    await makeHandler([])(event, cap.stream);
    const res = cap.result();
    expect(res.prelude.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_json');
  });

  it('reads a body without Content-Type as JSON and refuses one declared text/plain with 415', async () => {
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const plain = captureStream();
    await makeHandler([])(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body, headers: { 'content-type': 'text/plain' } }), plain.stream);
    expect(plain.result().prelude.statusCode).toBe(415);
    expect(JSON.parse(plain.result().body).error.code).toBe('unsupported_content_type');
  });

  it('aborts the upstream and settles as client_abort when the client goes away mid-stream', async () => {
    const outcomes: RequestOutcome[] = [];
    upstreamAborted = false;
    const cap = captureStream({ destroyAfterWrites: 3 });
    const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'count' }] });
    await makeHandler(outcomes)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body }), cap.stream);
    expect(upstreamAborted).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].status).toBe('client_abort');
  });

  it('aborts and settles shortly before the function deadline instead of leaking the reservation', async () => {
    const outcomes: RequestOutcome[] = [];
    upstreamAborted = false;
    const cap = captureStream();
    const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'count' }] });
    // 300 ms left before the margin; the upstream needs 2 s (20 chunks, 100 ms apart): it is cut mid-way.
    words = Array.from({ length: 20 }, (_, i) => `w${i} `);
    chunkDelayMs = 100;
    const context = { getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS + 300 };
    await makeHandler(outcomes)(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body }), cap.stream, context).finally(() => {
      words = ['one ', 'two ', 'three'];
      chunkDelayMs = 20;
    });
    expect(upstreamAborted).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].status).toBe('client_abort');
    expect(cap.result().body).not.toContain('[DONE]');
  });

  it('runs the after-invocation hook once deferred work is done', async () => {
    const order: string[] = [];
    const app = createGatewayApp({
      config,
      adapters: new Map([['up', adapter]]),
      providerKeys: { get: async () => undefined },
      gatekeeper: {
        admit: async () => ({
          attribution: { keyId: 'k' },
          headers: {},
          settle: async () => {
            await new Promise((r) => setTimeout(r, 30));
            order.push('settled');
          },
        }),
      },
    });
    const handler = createStreamingHandler(app, awsLambdaEmulation, { afterInvocation: () => void order.push('flushed') });
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    await handler(restProxyEvent({ method: 'POST', path: '/v1/chat/completions', body }), captureStream().stream);
    expect(order).toEqual(['settled', 'flushed']);
  });

  it('hands chunks ready in the same tick to the runtime in one batch, without waiting for later ones', async () => {
    const enc = new TextEncoder();
    let step = 0;
    const app = {
      fetch: async () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              async pull(controller) {
                step++;
                if (step <= 3) controller.enqueue(enc.encode(['a', 'b', 'c'][step - 1]));
                else if (step === 4) {
                  await new Promise((r) => setTimeout(r, 100));
                  controller.enqueue(enc.encode('d'));
                } else controller.close();
              },
            },
            { highWaterMark: 0 },
          ),
          { status: 200, headers: { 'content-type': 'text/event-stream' } },
        ),
    };
    // A stream that, like a socket, takes a corked batch in one writev.
    const batches: Array<{ at: number; text: string }> = [];
    const record = (text: string) => batches.push({ at: Date.now(), text });
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        record(chunk.toString('latin1'));
        cb();
      },
      writev(chunks, cb) {
        record(chunks.map((c) => Buffer.from(c.chunk as Buffer).toString('latin1')).join(''));
        cb();
      },
    });
    await createStreamingHandler(app, awsLambdaEmulation)(restProxyEvent({ method: 'GET', path: '/x' }), stream);
    // The prelude goes out inside the first write (as in the runtime), so it shares the first batch.
    expect(batches).toHaveLength(2);
    expect(batches[0].text.endsWith(`${'\0'.repeat(8)}abc`)).toBe(true);
    expect(batches[1].text).toBe('d');
    expect(batches[1].at - batches[0].at).toBeGreaterThanOrEqual(80);
  });

  it('writes the status and headers of a response with an empty body (the runtime sends them on the first write only)', async () => {
    const app = { fetch: async () => new Response(null, { status: 204, headers: { 'x-empty': 'yes' } }) };
    const cap = captureStream();
    await createStreamingHandler(app, awsLambdaEmulation)(restProxyEvent({ method: 'GET', path: '/x' }), cap.stream);
    expect(cap.result()).toMatchObject({ prelude: { statusCode: 204, headers: { 'x-empty': 'yes' } }, body: '', ended: true });
  });

  it('writes the prelude of a response whose body stream ends without a byte', async () => {
    const app = { fetch: async () => new Response(new ReadableStream({ start: (c) => c.close() }), { status: 200 }) };
    const cap = captureStream();
    await createStreamingHandler(app, awsLambdaEmulation)(restProxyEvent({ method: 'GET', path: '/x' }), cap.stream);
    expect(cap.result()).toMatchObject({ prelude: { statusCode: 200 }, body: '' });
  });

  it('routes by the stage-relative resource, so a custom domain with any base path works', async () => {
    const handler = createStreamingHandler(createGatewayApp({ config, adapters: new Map([['up', adapter]]), providerKeys: { get: async () => undefined }, gatekeeper: { admit: async () => ({ attribution: { keyId: 'k' }, headers: {}, settle: async () => undefined }) } }), awsLambdaEmulation);
    for (const basePath of ['/llm', '/team/a/b', '']) {
      const cap = captureStream();
      await handler(restProxyEvent({ method: 'GET', path: '/v1/models', basePath }), cap.stream);
      expect(cap.result().prelude.statusCode).toBe(200);
      expect(JSON.parse(cap.result().body)).toMatchObject({ object: 'list' });
    }
  });
});
