/**
 * SSE encoding of relayed chunks: a chunk the gateway relays unchanged keeps the upstream's own JSON
 * text (no second serialisation); anything the gateway built or changed is serialised.
 */
import { sseChunk } from '../../../lambda/app/sse';
import type { ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import { parseChunk, UsageCollector } from '../../../lambda/providers/openai-compatible/chat-complete';
import { rawJsonOf, withRawJson } from '../../../lambda/providers/shared/chunks';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('Method: sseChunk', () => {
  it('forwards the upstream JSON text of an OpenAI-compatible chunk the gateway does not change', () => {
    // Spacing and escapes a re-serialisation would not reproduce byte for byte.
    const data = '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "caf\\u00e9 \\u2028"}, "finish_reason": null}], "x_vendor": 1.0}';
    const chunk = parseChunk('p', data);
    expect(rawJsonOf(chunk)).toBe(data);
    expect(text(sseChunk(chunk))).toBe(`data: ${data}\n\n`);
    expect(JSON.parse(text(sseChunk(chunk)).slice(6))).toEqual(JSON.parse(data));
  });

  it('serialises chunks the gateway changed: usage normalised or stripped, copies, built chunks', () => {
    const data = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}';
    const parsed = parseChunk('p', data);
    expect(rawJsonOf(parsed)).toBeUndefined();
    const stripped = new UsageCollector().take(parsed) as ChatCompletionChunk;
    expect(text(sseChunk(stripped))).toBe(`data: ${JSON.stringify(stripped)}\n\n`);
    expect(text(sseChunk(stripped))).not.toContain('usage');

    const plain = parseChunk('p', '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}');
    const copy = { ...plain, model: 'other' };
    expect(rawJsonOf(copy)).toBeUndefined();
    expect(JSON.parse(text(sseChunk(copy)).slice(6)).model).toBe('other');
  });

  it('never forwards text that spans lines (an SSE data line cannot)', () => {
    const chunk: ChatCompletionChunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] };
    withRawJson(chunk, '{"id":"c",\n"object":"chat.completion.chunk","created":1,"model":"m","choices":[]}');
    expect(rawJsonOf(chunk)).toBeUndefined();
    expect(text(sseChunk(chunk))).toBe(`data: ${JSON.stringify(chunk)}\n\n`);
  });
});
