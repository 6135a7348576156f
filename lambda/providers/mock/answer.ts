/**
 * The mock provider's deterministic answer: the same request always gets the same words, so a demo or a
 * load test is reproducible, and an answer's length is known before it is "generated". Each word is one
 * o200k token (common short English words), so the usage the mock reports matches what the tokenizer
 * would count for its output.
 */
import { contentText, requestedMaxTokens, type ChatCompletionRequest } from '../../core/openai-schema';

const WORDS = [
  'the', 'answer', 'is', 'that', 'we', 'can', 'see', 'a', 'clear', 'path', 'to', 'lower', 'cost', 'and', 'faster',
  'results', 'for', 'this', 'team', 'with', 'one', 'simple', 'change', 'in', 'how', 'each', 'model', 'is', 'used',
  'so', 'every', 'request', 'gets', 'what', 'it', 'needs', 'at', 'the', 'right', 'price', 'today',
];

/** FNV-1a over the text: a stable 32-bit seed, cheap and dependency-free. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A request's identity for the mock: its model and messages (not sampling options). */
export function requestSeed(request: ChatCompletionRequest): number {
  return seedOf(`${request.model}\n${request.messages.map((m) => `${m.role}:${contentText(m.content as Parameters<typeof contentText>[0])}`).join('\n')}`);
}

export interface MockAnswer {
  /** One entry per output token, each with its leading space (except the first). */
  tokens: string[];
  /** `length` when the client's max_tokens cut the answer short. */
  finishReason: 'stop' | 'length';
}

/**
 * `answerTokens` words (±25% by seed, at least 1), cut at `cap` (the effective output cap the adapter is
 * given; default the client's max_tokens). Deterministic in the request.
 */
export function mockAnswer(request: ChatCompletionRequest, answerTokens: number, cap = requestedMaxTokens(request)): MockAnswer {
  const seed = requestSeed(request);
  const spread = Math.floor(answerTokens / 4);
  const natural = Math.max(1, answerTokens - spread + (spread > 0 ? seed % (2 * spread + 1) : 0));
  const length = cap !== undefined ? Math.min(natural, cap) : natural;
  const tokens: string[] = [];
  for (let i = 0; i < length; i++) {
    const word = WORDS[(seed + i * 7) % WORDS.length];
    tokens.push(i === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : ` ${word}`);
  }
  return { tokens, finishReason: cap !== undefined && cap < natural ? 'length' : 'stop' };
}

/** Whether this request fails, for a mock configured with an error rate: decided by the seed, so repeatable. */
export function mockFails(request: ChatCompletionRequest, errorRate: number): boolean {
  if (errorRate <= 0) return false;
  return (requestSeed(request) % 10_000) / 10_000 < errorRate;
}
