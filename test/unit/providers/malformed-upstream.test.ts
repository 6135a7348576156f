/**
 * Odd but plausible upstream payloads (found by fuzzing in review): each becomes a retryable
 * `upstream_malformed_response` UpstreamError, never a TypeError the app would turn into a 500; usage
 * counts from a host are clamped, never trusted to be non-negative integers (they are money).
 */
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { UpstreamError } from '../../../lambda/core/errors';
import { fromAnthropicResponse } from '../../../lambda/providers/anthropic/chat-complete';
import { AnthropicStreamTranslator } from '../../../lambda/providers/anthropic/stream';
import { fromConverseResponse } from '../../../lambda/providers/bedrock/converse';
import { ConverseStreamTranslator } from '../../../lambda/providers/bedrock/stream';
import { normaliseUsage, parseChunk, parseCompletion } from '../../../lambda/providers/openai-compatible/chat-complete';

const malformed = expect.objectContaining({ code: 'upstream_malformed_response' });

describe('Anthropic', () => {
  it('rejects a message whose content holds a non-object block', () => {
    expect(() => fromAnthropicResponse('a', { id: 'm', model: 'c', content: [null], stop_reason: 'end_turn', usage: {} }, 1)).toThrow(UpstreamError);
  });

  it.each([
    ['message_start without message', '{"type":"message_start"}'],
    ['message_start with null message', '{"type":"message_start","message":null}'],
    ['content_block_start without block', '{"type":"content_block_start","index":0}'],
    ['content_block_delta without delta', '{"type":"content_block_delta","index":0}'],
  ])('rejects a stream event: %s', (_name, data) => {
    expect(() => new AnthropicStreamTranslator('a', 1).translateData(data)).toThrow(malformed);
  });

  it('keeps its own id and the request model when message_start sends non-string ones (found by fuzzing)', () => {
    const [chunk] = new AnthropicStreamTranslator('a', 1, 'claude').translateData('{"type":"message_start","message":{"id":{},"model":[1]}}');
    expect(chunk).toMatchObject({ model: 'claude', id: expect.stringMatching(/^chatcmpl-/) });
  });

  it('accepts a message_delta without delta (usage only)', () => {
    expect(() => new AnthropicStreamTranslator('a', 1).translateData('{"type":"message_delta","usage":{"output_tokens":3}}')).not.toThrow();
  });
});

describe('OpenAI-compatible', () => {
  it('rejects chunks and completions whose choices are not objects', () => {
    expect(() => parseChunk('o', '{"id":"x","choices":[null]}')).toThrow(malformed);
    expect(() => parseCompletion('o', { id: 'x', choices: [1] })).toThrow(malformed);
  });

  it('clamps negative, fractional and non-numeric usage counts', () => {
    const usage = normaliseUsage({ prompt_tokens: -1000, completion_tokens: 2.7, total_tokens: -5, prompt_tokens_details: { cached_tokens: '5' } });
    expect(usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 2, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
  });
});

describe('Bedrock', () => {
  it('relays no stream delta whose text, reasoning or tool input is not a string (found by fuzzing)', () => {
    const t = new ConverseStreamTranslator('b', 'm', 1);
    t.translate({ contentBlockStart: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 't', name: 'f' } } } });
    const odd = [{ text: 5 }, { reasoningContent: { text: [] } }, { reasoningContent: { signature: {} } }, { toolUse: { input: { a: 1 } } }];
    for (const delta of odd) expect(t.translate({ contentBlockDelta: { contentBlockIndex: 0, delta } } as unknown as ConverseStreamOutput)).toEqual([]);
  });


  it('rejects a Converse response whose content holds a non-object block', () => {
    const res = { output: { message: { role: 'assistant', content: [null] } }, stopReason: 'end_turn' } as unknown as Parameters<typeof fromConverseResponse>[2];
    expect(() => fromConverseResponse('b', 'm', res, 1)).toThrow(UpstreamError);
  });
});
