/**
 * Model capabilities for `tollgate insights`: the context window from the pinned price catalog
 * (@pydantic/genai-prices) where it has one, tools/vision/reasoning from the hand table, config overrides
 * over both; a model only the catalog knows has unknown features, which count against it.
 */
import { canReplace, capabilitiesOf, type ModelCapabilities } from '../../../lambda/core/model-capabilities';
import { catalogPrice } from '../../../lambda/core/price-catalog';

const window = (provider: string, model: string) => catalogPrice({}, provider, model)?.contextWindow;

describe('Method: capabilitiesOf', () => {
  it("takes the context window from the catalog and the features from the hand table", () => {
    // The hand table says 128K for deepseek-reasoner; the pinned catalog says 64K, and wins.
    expect(window('deepseek', 'deepseek-reasoner')).toBe(64_000);
    expect(capabilitiesOf('deepseek/deepseek-reasoner', {}, window('deepseek', 'deepseek-reasoner'))).toEqual({ contextWindow: 64_000, tools: false, vision: false, reasoning: true });
    // gpt-4.1-mini: the catalog's 1,000,000 over the table's 1,047,576.
    expect(capabilitiesOf('openai/gpt-4.1-mini', {}, window('openai', 'gpt-4.1-mini'))?.contextWindow).toBe(1_000_000);
  });

  it('falls back to the hand table where the catalog has no context window', () => {
    expect(window('mistral', 'mistral-small-latest')).toBeUndefined();
    expect(capabilitiesOf('mistral/mistral-small-latest', {}, undefined)).toEqual({ contextWindow: 128_000, tools: true, vision: true, reasoning: false });
  });

  it('knows a model only the catalog has, with its features unknown', () => {
    expect(capabilitiesOf('anthropic/claude-3-7-sonnet-20250219', {}, window('anthropic', 'claude-3-7-sonnet-20250219'))).toEqual({
      contextWindow: 200_000,
      tools: false,
      vision: false,
      reasoning: false,
      featuresKnown: false,
    });
    expect(capabilitiesOf('acme/unknown-model', {}, undefined)).toBeUndefined();
  });

  it('lets config override everything', () => {
    const mine: ModelCapabilities = { contextWindow: 32_000, tools: true, vision: false, reasoning: false };
    expect(capabilitiesOf('deepseek/deepseek-reasoner', { 'deepseek/deepseek-reasoner': mine }, 64_000)).toBe(mine);
  });
});

describe('Method: canReplace', () => {
  const plain: ModelCapabilities = { contextWindow: 128_000, tools: false, vision: false, reasoning: false };
  const tools: ModelCapabilities = { ...plain, tools: true };
  const unknown: ModelCapabilities = { ...plain, contextWindow: 200_000, featuresKnown: false };

  it('counts unknown features as absent in a candidate and as present in the current model', () => {
    expect(canReplace(unknown, plain)).toBe(true);
    expect(canReplace(unknown, tools)).toBe(false);
    expect(canReplace({ ...tools, vision: true, reasoning: true, contextWindow: 200_000 }, unknown)).toBe(true);
    expect(canReplace(tools, unknown)).toBe(false);
  });

  it('needs at least the same context', () => {
    expect(canReplace({ ...tools, contextWindow: 64_000 }, tools)).toBe(false);
    expect(canReplace(tools, plain)).toBe(true);
  });
});
