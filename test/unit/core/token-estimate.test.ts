import { BPE_PIECES_PER_ESTIMATE, estimateInputTokens, estimateTokens, IMAGE_TOKENS, IMAGE_TOKENS_LOW } from '../../../lambda/core/token-estimate';

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

describe('Method: estimateTokens (fast path and bound)', () => {
  // The reference: gpt-tokenizer's own o200k count of the whole text.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exact = (text: string) => (require('gpt-tokenizer') as { countTokens(t: string): number }).countTokens(text);

  it('equals o200k exactly on ASCII text split by the hand-written scanner (random strings over a tricky alphabet)', () => {
    const alphabet = "aAbZz09 \n\r\t\v\f'!./-_ sTtLlvVeErRdDmM\u0000{}\"#";
    let seed = 42;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let t = 0; t < 3_000; t++) {
      let s = '';
      for (let i = 0, n = 1 + Math.floor(rand() * 40); i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      expect([s, estimateTokens(s)]).toEqual([s, exact(s)]);
    }
  });

  it('equals o200k on ordinary prose, code and non-ASCII text with short pieces', () => {
    const prose = 'The quick brown fox jumps over the lazy dog. It\'s 2026; we\'ll see—café, naïve, 東京 タワー, emoji 🙂.\n\n  Indented line\r\n';
    const code = 'export function f(a: number): number {\n    return a * 2; // double\n}\n';
    for (const s of [prose, code, prose.repeat(20) + code.repeat(20)]) expect(estimateTokens(s)).toBe(exact(s));
  });

  it('never estimates below o200k: long pieces (CJK runs, symbol runs, blobs) count as their UTF-8 bytes', () => {
    const cjk = Array.from({ length: 300 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
    const symbols = '=-'.repeat(200);
    const blob = Buffer.from(Array.from({ length: 3_000 }, (_, i) => (i * 7919) % 256)).toString('base64');
    for (const s of [cjk, symbols, blob, `intro ${cjk} outro`]) {
      expect(estimateTokens(s)).toBeGreaterThanOrEqual(exact(s));
      expect(estimateTokens(s)).toBeLessThanOrEqual(Buffer.byteLength(s));
    }
    expect(estimateTokens(cjk)).toBe(Buffer.byteLength(cjk));
  });

  it('stays an upper bound once an estimate has used its BPE budget on new pieces', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const word = () => Array.from({ length: 3 + Math.floor(rand() * 6) }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('');
    const novel = Array.from({ length: BPE_PIECES_PER_ESTIMATE * 2 }, () => ` ${word()}`).join('');
    const n = estimateTokens(novel);
    expect(n).toBeGreaterThanOrEqual(exact(novel));
    expect(n).toBeLessThanOrEqual(novel.length);
    expect(estimateTokens(novel)).toBeLessThanOrEqual(n); // memoised pieces are exact next time
  });

  it('counts text naming a special token as text instead of throwing', () => {
    expect(estimateTokens('hello <|endoftext|> world')).toBeGreaterThan(3);
    expect(estimateInputTokens({ model: 'm', messages: [{ role: 'user', content: '<|im_start|>system' }] })).toBeGreaterThan(6);
  });
});
