import { modelMaxOutputTokens, UNKNOWN_MODEL_MAX_OUTPUT } from '../../../lambda/core/model-limits';
import { outputCap, worstOutputTokens } from '../../../lambda/core/output-cap';

const gpt = { model: 'gpt-4o-mini' };
const haikuProfile = { model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' };

describe('Method: modelMaxOutputTokens', () => {
  it.each([
    ['gpt-4o-mini', 16_384],
    ['gpt-5-mini', 128_000],
    ['o3-mini', 100_000],
    ['claude-sonnet-4-5-20250929', 64_000],
    ['anthropic.claude-sonnet-4-5-20250929-v1:0', 64_000],
    ['us.anthropic.claude-haiku-4-5-20251001-v1:0', 64_000],
    ['eu.anthropic.claude-opus-4-1-20250805-v1:0', 32_000],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 64_000],
    ['amazon.nova-lite-v1:0', 5_000],
    ['us.amazon.nova-lite-v1:0', 5_000],
    ['gemini-2.5-flash', 65_536],
    ['mistral-small-latest', 16_384],
    ['deepseek-chat', 8_192],
  ])('knows %s: %d', (model, max) => {
    expect(modelMaxOutputTokens(model)).toBe(max);
  });

  it('does not know a made-up model', () => {
    expect(modelMaxOutputTokens('acme-llm-7b')).toBeUndefined();
  });
});

describe('Method: outputCap', () => {
  it("is the model's real maximum when neither the client nor the alias names one", () => {
    expect(outputCap({}, {}, gpt)).toEqual({ perChoice: 16_384, choices: 1, total: 16_384 });
    expect(outputCap({}, {}, { model: 'gemini-2.5-flash' }).perChoice).toBe(65_536);
  });

  it("is the alias's ceiling, clamped to the model's real maximum", () => {
    expect(outputCap({}, { maxOutputTokens: 1_000 }, gpt).perChoice).toBe(1_000);
    expect(outputCap({}, { maxOutputTokens: 1_000_000 }, gpt).perChoice).toBe(16_384);
  });

  it("is the client's value when smaller, never above the ceiling", () => {
    expect(outputCap({ max_tokens: 10 }, { maxOutputTokens: 1_000 }, gpt).perChoice).toBe(10);
    expect(outputCap({ max_tokens: 50_000 }, { maxOutputTokens: 1_000 }, gpt).perChoice).toBe(1_000);
    expect(outputCap({ max_completion_tokens: 50_000 }, {}, gpt).perChoice).toBe(16_384);
  });

  it('takes the smaller of max_tokens and max_completion_tokens when both are sent', () => {
    expect(outputCap({ max_tokens: 50_000, max_completion_tokens: 1 }, {}, gpt).perChoice).toBe(1);
    expect(outputCap({ max_tokens: 7, max_completion_tokens: 9_000 }, {}, gpt).perChoice).toBe(7);
  });

  it('counts n choices in the total, not in what each choice may generate', () => {
    expect(outputCap({ n: 128 }, {}, gpt)).toEqual({ perChoice: 16_384, choices: 128, total: 16_384 * 128 });
    expect(outputCap({ n: null, max_tokens: 5 }, {}, gpt)).toEqual({ perChoice: 5, choices: 1, total: 5 });
  });

  it(`falls back to the alias, then ${UNKNOWN_MODEL_MAX_OUTPUT}, for a model the table does not know`, () => {
    expect(outputCap({}, { maxOutputTokens: 300_000 }, { model: 'acme' }).perChoice).toBe(300_000);
    expect(outputCap({}, {}, { model: 'acme' }).perChoice).toBe(UNKNOWN_MODEL_MAX_OUTPUT);
  });
});

describe('Method: worstOutputTokens', () => {
  it('is the largest allowance over the fallback targets', () => {
    expect(worstOutputTokens({}, {}, [gpt, haikuProfile])).toBe(64_000);
    expect(worstOutputTokens({ max_tokens: 100, n: 2 }, {}, [gpt, haikuProfile])).toBe(200);
  });
});
