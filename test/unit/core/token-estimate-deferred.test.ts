/**
 * The Lambda defers the tokenizer's load to after its first response: until then estimates are the UTF-8
 * byte upper bound. Its own file, because the deferral is module state (a fresh module per jest file).
 */
import { countTokens } from 'gpt-tokenizer';
import { deferTokenizerLoad, estimateTokens, warmTokenizer } from '../../../lambda/core/token-estimate';

describe('Method: deferTokenizerLoad / warmTokenizer', () => {
  const text = 'The quick brown fox jumps over the lazy dog, again and again, in plain English words.';

  it('counts new pieces as their UTF-8 bytes while deferred (never below o200k), exactly once warmed', () => {
    deferTokenizerLoad();
    const deferred = estimateTokens(text);
    expect(deferred).toBe(Buffer.byteLength(text, 'utf8'));
    expect(deferred).toBeGreaterThanOrEqual(countTokens(text));

    warmTokenizer();
    expect(estimateTokens(text)).toBe(countTokens(text));
  });

  it('does not defer again once the tokenizer is loaded', () => {
    deferTokenizerLoad();
    expect(estimateTokens(text)).toBe(countTokens(text));
  });
});
