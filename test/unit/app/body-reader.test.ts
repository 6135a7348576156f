/**
 * bodyReader pulls a relay's frames without a web stream in between; it must keep the ReadableStream
 * contract (highWaterMark 0) the relay was written against: pulled only while a read waits, never two
 * pulls at once, what is enqueued during a pull (keep-alive comments) read at once, cancel once.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jsonResponse } from '../../../lambda/app/http';
import { bodyReader, hasBody, streamResponse, type FrameRelay } from '../../../lambda/app/relay';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

/** A source that enqueues the scripted chunks, one per pull, each pull waiting `gate()` first. */
function scripted(chunks: string[]) {
  const calls = { pulls: 0, concurrent: 0, maxConcurrent: 0, cancels: 0 };
  let release: (() => void) | undefined;
  let controllerSeen: ReadableStreamDefaultController<Uint8Array> | undefined;
  const source = {
    async pull(controller: ReadableStreamDefaultController<Uint8Array>) {
      controllerSeen = controller;
      calls.pulls++;
      calls.concurrent++;
      calls.maxConcurrent = Math.max(calls.maxConcurrent, calls.concurrent);
      await new Promise<void>((r) => (release = r));
      calls.concurrent--;
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(bytes(next));
    },
    async cancel() {
      calls.cancels++;
    },
  };
  return {
    calls,
    source: source as unknown as FrameRelay,
    release: () => release?.(),
    controller: () => controllerSeen as ReadableStreamDefaultController<Uint8Array>,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('bodyReader (direct relay reads)', () => {
  it("lets go of its relay once the stream is closed: a finished request's objects are not kept by its reader", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // The reader stays reachable (as a dead reader can stay in the old generation); the relay and the
    // response do not. Kept by the reader, a request's whole graph outlived two scavenges (bench/gc-survival.ts).
    let reader: ReturnType<typeof bodyReader>;
    let relay: WeakRef<object>;
    const s = ((): ReturnType<typeof scripted> => {
      const made = scripted(['a']);
      relay = new WeakRef(made.source);
      reader = bodyReader(streamResponse(made.source, { status: 200 }));
      return { ...made, source: undefined as unknown as FrameRelay };
    })();
    const read = async () => {
      const r = reader!.read();
      await tick();
      s.release();
      return r;
    };
    expect(text((await read()).value)).toBe('a');
    expect(await read()).toEqual({ done: true, value: undefined });
    await tick();
    gc();
    expect(relay!.deref()).toBeUndefined();
    // The reader, still held, still answers as a closed stream does.
    expect(await reader!.read()).toEqual({ done: true, value: undefined });
  });

  it('pulls only while a read waits, one pull at a time, and ends when the source closes', async () => {
    const s = scripted(['a', 'b']);
    const reader = bodyReader(streamResponse(s.source, { status: 200 }))!;
    await tick();
    expect(s.calls.pulls).toBe(0); // nothing read yet: nothing pulled
    const first = reader.read();
    await tick();
    expect(s.calls.pulls).toBe(1);
    s.release();
    expect(text((await first).value)).toBe('a');
    await tick();
    expect(s.calls.pulls).toBe(1); // no read waiting: no pull
    const second = reader.read();
    await tick();
    s.release();
    expect(text((await second).value)).toBe('b');
    const end = reader.read();
    await tick();
    s.release();
    expect(await end).toEqual({ done: true, value: undefined });
    expect(s.calls.maxConcurrent).toBe(1);
  });

  it('delivers what is enqueued during a pull (a keep-alive) at once, and desiredSize says when nothing waits unread', async () => {
    const s = scripted(['data']);
    const reader = bodyReader(streamResponse(s.source, { status: 200 }))!;
    const first = reader.read();
    await tick();
    expect(s.controller().desiredSize).toBe(0);
    s.controller().enqueue(bytes(': keep-alive\n\n'));
    expect(text((await first).value)).toBe(': keep-alive\n\n');
    const second = reader.read();
    await tick();
    expect(s.calls.pulls).toBe(1); // the running pull is not doubled
    s.release();
    expect(text((await second).value)).toBe('data');
  });

  it('cancel reaches the source once, ends a waiting read, and later enqueues throw as on a closed stream', async () => {
    const s = scripted(['x']);
    const reader = bodyReader(streamResponse(s.source, { status: 200 }))!;
    const waiting = reader.read();
    await tick();
    await reader.cancel();
    await reader.cancel();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(s.calls.cancels).toBe(1);
    expect(() => s.controller().enqueue(bytes('late'))).toThrow(TypeError);
  });

  it('a JSON response is read as the bytes it was built from, once, the same as its body stream gives', async () => {
    const body = { error: { message: 'Ünïcode ✓', type: 'invalid_request_error', param: null, code: 'x' } };
    const reader = bodyReader(jsonResponse(400, body))!;
    const first = await reader.read();
    expect(text(first.value)).toBe(await jsonResponse(400, body).text());
    expect(await reader.read()).toEqual({ done: true, value: undefined });
  });

  it('any other Response is read through its own body stream', async () => {
    const reader = bodyReader(new Response('plain'))!;
    expect(text((await reader.read()).value)).toBe('plain');
  });
});

describe('a streamed Response (streamResponse)', () => {
  /** Counts web streams built while `fn` runs. */
  async function streamsBuilt(fn: () => Promise<void>): Promise<number> {
    const Original = globalThis.ReadableStream;
    let built = 0;
    globalThis.ReadableStream = class extends Original<Uint8Array> {
      constructor(...args: ConstructorParameters<typeof ReadableStream<Uint8Array>>) {
        super(...args);
        built++;
      }
    } as typeof ReadableStream;
    try {
      await fn();
    } finally {
      globalThis.ReadableStream = Original;
    }
    return built;
  }

  async function drain(reader: Pick<ReadableStreamDefaultReader<Uint8Array>, 'read'>, s: ReturnType<typeof scripted>): Promise<string> {
    let out = '';
    for (;;) {
      const next = reader.read();
      await tick();
      s.release();
      const r = await next;
      if (r.done) return out;
      out += text(r.value);
    }
  }

  it('is read by the servers (hasBody, bodyReader) without a web stream being built', async () => {
    const s = scripted(['a', 'b']);
    let read = '';
    const built = await streamsBuilt(async () => {
      const response = streamResponse(s.source, { status: 200, headers: { 'content-type': 'text/event-stream' } });
      expect(hasBody(response)).toBe(true);
      read = await drain(bodyReader(response)!, s);
    });
    expect(read).toBe('ab');
    expect(built).toBe(0);
  });

  it('gives any other reader the same bytes: its body stream, or text()', async () => {
    const viaBody = scripted(['a', 'b']);
    const response = streamResponse(viaBody.source, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    expect(response.bodyUsed).toBe(false);
    const reader = response.body!.getReader();
    expect(response.bodyUsed).toBe(true);
    expect(await drain(reader, viaBody)).toBe('ab');

    const viaText = scripted(['c', 'd']);
    const whole = streamResponse(viaText.source, { status: 200 });
    const pending = whole.text();
    for (let i = 0; i < 3; i++) {
      await tick();
      viaText.release();
    }
    expect(await pending).toBe('cd');
    expect(whole.status).toBe(200);
    expect(() => whole.clone()).toThrow(TypeError);
  });

  it('once its body stream was built, is read through it: the stream owns the relay', async () => {
    const s = scripted(['a']);
    const response = streamResponse(s.source, { status: 200 });
    expect(response.body).not.toBeNull(); // built, not read yet
    const reader = bodyReader(response)!;
    expect(response.bodyUsed).toBe(true); // the reader is the stream's
    expect(await drain(reader, s)).toBe('a');
  });

  it('hasBody is false for a Response without one', () => {
    expect(hasBody(new Response(null, { status: 204 }))).toBe(false);
    expect(hasBody(new Response('x'))).toBe(true);
  });
});
