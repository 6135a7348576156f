/**
 * Input-token estimates for admission (rate limits, worst-case budget reservations) and for usage when a
 * stream ends before the upstream reports it. o200k_base is exact for OpenAI's current models and close
 * for others; admission pads it (see INPUT_ESTIMATE_SAFETY) because Claude and Gemini tokenizers count more.
 */
import { countTokens } from 'gpt-tokenizer';
import { contentText, type ChatCompletionRequest, type ChatMessage } from './openai-schema';

/** OpenAI's chat format costs ~3 tokens per message plus 3 to prime the reply. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;
/** Fixed cost per image: `low` detail is 85 tokens at OpenAI; otherwise the largest common tile cost (Claude ~1,600 for 1.15 MP). */
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS = 1_600;
/** Multiplier applied to the estimate when reserving budget, to cover tokenizers that count more than o200k. */
export const INPUT_ESTIMATE_SAFETY = 1.25;

export function estimateTokens(text: string): number {
  if (!text) return 0;
  return countTokens(text);
}

function messageTokens(m: ChatMessage): number {
  let n = TOKENS_PER_MESSAGE;
  if ('name' in m && m.name) n += TOKENS_PER_NAME + estimateTokens(m.name);
  if (m.role === 'user' && Array.isArray(m.content)) {
    for (const part of m.content) {
      if (part.type === 'text') n += estimateTokens(part.text);
      else n += part.image_url.detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS;
    }
    return n;
  }
  n += estimateTokens(contentText(m.content as Parameters<typeof contentText>[0]));
  if (m.role === 'assistant') {
    for (const call of m.tool_calls ?? []) n += estimateTokens(call.function.name) + estimateTokens(call.function.arguments) + 3;
    if (m.refusal) n += estimateTokens(m.refusal);
  }
  return n;
}

/** Messages, tool definitions and a JSON schema response format, as the upstream will see them. */
export function estimateInputTokens(request: ChatCompletionRequest): number {
  let n = REPLY_PRIMING_TOKENS;
  for (const m of request.messages) n += messageTokens(m);
  if (request.tools?.length) n += estimateTokens(JSON.stringify(request.tools));
  if (request.response_format?.type === 'json_schema') n += estimateTokens(JSON.stringify(request.response_format.json_schema));
  return n;
}
