import { estimateInputTokens, estimateTokens, IMAGE_TOKENS, IMAGE_TOKENS_LOW } from '../../../lambda/core/token-estimate';

describe('Method: estimateTokens', () => {
  it('counts o200k tokens', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('hello world')).toBe(2);
  });
});

describe('Method: estimateInputTokens', () => {
  it('adds per-message overhead and reply priming', () => {
    const n = estimateInputTokens({ model: 'm', messages: [{ role: 'system', content: 'hello world' }, { role: 'user', content: 'hello world' }] });
    expect(n).toBe(3 + 2 * (3 + 2));
  });

  it('charges images a fixed cost by detail', () => {
    const n = estimateInputTokens({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
      ],
    });
    expect(n).toBe(3 + 3 + IMAGE_TOKENS_LOW + IMAGE_TOKENS);
  });

  it('counts tool definitions and assistant tool calls', () => {
    const base = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    const withTools = estimateInputTokens({ ...base, tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }] });
    expect(withTools).toBeGreaterThan(estimateInputTokens(base));
    const withCall = estimateInputTokens({
      model: 'm',
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }],
    });
    expect(withCall).toBeGreaterThan(3 + 3);
  });
});
