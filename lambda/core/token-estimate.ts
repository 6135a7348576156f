/**
 * Input-token estimates for admission (rate limits, worst-case budget reservations) and for usage when a
 * stream ends before the upstream reports it. o200k_base is exact for OpenAI's current models and close
 * for others; admission pads it (see INPUT_ESTIMATE_SAFETY) because Claude and Gemini tokenizers count more.
 *
 * Cost. The tokenizer (gpt-tokenizer, ~2.7 MB of the bundle, ~1 s to load cold) is required lazily, on the
 * first estimate, so it is not part of the Lambda's init. Counting splits the text with o200k's own
 * pre-tokenizer regex and counts each piece once: pieces repeat (words, indentation, punctuation), so a
 * per-container memo turns most of a long prompt into Map lookups (ASCII text is split by a hand-written
 * scanner, ~10× faster than the Unicode regex). A piece longer than EXACT_PIECE_MAX_CHARS
 * (a CJK sentence without spaces, a base64 blob, a run of symbols: BPE on it is quadratic, seconds for
 * 20k CJK characters) is not run through BPE: it counts as its UTF-8 byte length, an upper bound (every
 * o200k token is at least one byte); so does a new piece once an estimate has spent its BPE budget
 * (BPE_PIECES_PER_ESTIMATE). So the estimate is exact o200k for ordinary text, never below it, and costs a
 * bounded few milliseconds for any input.
 */
import { contentText, type ChatCompletionRequest, type ChatMessage } from './openai-schema';
import { onFirstUse } from './on-first-use';

/** OpenAI's chat format costs ~3 tokens per message plus 3 to prime the reply. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;
/** Fixed cost per image: `low` detail is 85 tokens at OpenAI; otherwise the largest common tile cost (Claude ~1,600 for 1.15 MP). */
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS = 1_600;
/** Multiplier applied to the estimate when reserving budget, to cover tokenizers that count more than o200k. */
export const INPUT_ESTIMATE_SAFETY = 1.25;
/** Pieces up to this length are counted exactly (BPE); longer ones count as their UTF-8 bytes (an upper bound). */
const EXACT_PIECE_MAX_CHARS = 64;
/** Memoised piece counts per container; cleared when full. */
const PIECE_MEMO_MAX = 50_000;
/**
 * New (not memoised) pieces run through BPE per estimate, ~3 µs each: bounds an estimate's CPU to a few ms
 * however novel the text. Later new pieces count as their UTF-8 bytes (an upper bound, typically 3-5× the
 * tokens of a word) and are not memoised, so the next request with them gets them exact.
 */
export const BPE_PIECES_PER_ESTIMATE = 2_048;

/** o200k_base's pre-tokenizer (gpt-tokenizer's O200K_TOKEN_SPLIT_PATTERN): BPE never merges across these pieces. */
const CONTRACTION = String.raw`(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?`;
// Built on the first non-ASCII text, not at load: V8 expands its Unicode property classes when the RegExp is
// constructed (~4 ms, a share of every Lambda cold start that ASCII prompts never need).
const o200kSplit = onFirstUse(
  () =>
    new RegExp(
      String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+${CONTRACTION}|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*${CONTRACTION}|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
      'gu',
    ),
);

interface O200k {
  countTokens(text: string): number;
}
let tokenizer: O200k | undefined;
/** Loaded on first use: esbuild turns this require into a lazy module init, off the Lambda's cold start. */
function o200k(): O200k {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  tokenizer ??= require('gpt-tokenizer') as O200k;
  return tokenizer;
}

let deferLoad = false;
/**
 * From now until warmTokenizer(), estimates do not load the tokenizer: pieces not memoised yet count as
 * their UTF-8 bytes (the upper bound). The Lambda handler calls this at init and warms the tokenizer after
 * its first response, so a cold container's first request does not pay the tokenizer's load (~0.2 s) on
 * its time to first token; that one request is over-estimated instead (reservations and TPM err high).
 */
export function deferTokenizerLoad(): void {
  if (tokenizer === undefined) deferLoad = true;
}

/** Loads the tokenizer now (off the request path) and ends deferLoad. */
export function warmTokenizer(): void {
  try {
    o200k();
    deferLoad = false;
  } catch {
    // Estimates stay on the byte bound: over-estimates, never a failed request.
  }
}

const memo = new Map<string, number>();
/** BPE runs left in the current estimate (see BPE_PIECES_PER_ESTIMATE). */
let bpeLeft = 0;
let nested = false;

function pieceTokens(piece: string): number {
  if (piece.length > EXACT_PIECE_MAX_CHARS) return Buffer.byteLength(piece, 'utf8');
  let n = memo.get(piece);
  if (n === undefined) {
    // Over the CPU budget, or the tokenizer not loaded yet on purpose: the upper bound, not memoised.
    if (bpeLeft <= 0 || deferLoad) return Buffer.byteLength(piece, 'utf8');
    bpeLeft--;
    // A piece never holds a whole special token (`<|endoftext|>` splits into `<|`, `endoftext`, `|>`), so
    // user text that names one is counted as text, never an error; the catch is belt and braces.
    try {
      n = o200k().countTokens(piece);
    } catch {
      n = Buffer.byteLength(piece, 'utf8');
    }
    if (memo.size >= PIECE_MEMO_MAX) memo.clear();
    memo.set(piece, n);
  }
  return n;
}

/** Runs `fn` as one estimate: one BPE budget for all the texts it counts. */
function oneEstimate(fn: () => number): number {
  if (nested) return fn();
  nested = true;
  bpeLeft = BPE_PIECES_PER_ESTIMATE;
  try {
    return fn();
  } finally {
    nested = false;
  }
}

/**
 * o200k tokens of `text`: exact, except that pieces longer than EXACT_PIECE_MAX_CHARS, and pieces beyond
 * the BPE budget that are not memoised yet, count as their UTF-8 bytes (more). Never below o200k.
 */
export function estimateTokens(text: string): number {
  if (!text) return 0;
  return oneEstimate(() => countPieces(text));
}

function countPieces(text: string): number {
  let n = 0;
  if (ASCII_ONLY.test(text)) {
    for (let i = 0; i < text.length; ) {
      const end = asciiPieceEnd(text, i);
      n += end - i > EXACT_PIECE_MAX_CHARS ? end - i : pieceTokens(text.slice(i, end));
      i = end;
    }
    return n;
  }
  for (const m of text.matchAll(o200kSplit())) n += pieceTokens(m[0]);
  return n;
}

/** The split regex with Unicode property classes costs ~0.1 µs a character; ASCII text (most prompts) is scanned by hand. */
const ASCII_ONLY = /^\p{ASCII}*$/u;
/** UPPER and LOWER are the two smallest classes (`<= LOWER` is a letter). */
const UPPER = 1;
const LOWER = 2;
const DIGIT = 3;
/** \r \n */
const NEWLINE = 4;
/** other ASCII whitespace matched by \s: space, \t, \v, \f */
const SPACE = 5;
/** everything else: punctuation, symbols, control characters */
const OTHER = 6;
const ASCII_CLASS = new Uint8Array(128).map((_, c) =>
  c >= 65 && c <= 90 ? UPPER : c >= 97 && c <= 122 ? LOWER : c >= 48 && c <= 57 ? DIGIT : c === 10 || c === 13 ? NEWLINE : c === 32 || (c >= 9 && c <= 12) ? SPACE : OTHER,
);

/**
 * Where the o200k piece starting at `i` ends, for ASCII-only text: the same split as o200kSplit()
 * (alternatives in the regex's order; a test checks the two agree on random ASCII).
 */
function asciiPieceEnd(s: string, i: number): number {
  const len = s.length;
  const c = ASCII_CLASS[s.charCodeAt(i)];
  // [^\r\n\p{L}\p{N}]? [Upper]* [lower]+ contraction? | [^\r\n\p{L}\p{N}]? [Upper]+ [lower]* contraction?
  let k = c === UPPER || c === LOWER ? i : (c === SPACE || c === OTHER) && i + 1 < len && ASCII_CLASS[s.charCodeAt(i + 1)] <= LOWER ? i + 1 : -1;
  if (k >= 0) {
    while (k < len && ASCII_CLASS[s.charCodeAt(k)] === UPPER) k++;
    while (k < len && ASCII_CLASS[s.charCodeAt(k)] === LOWER) k++;
    if (k + 1 < len && s.charCodeAt(k) === 39 /* ' */) {
      const a = s.charCodeAt(k + 1) | 0x20;
      const b = k + 2 < len ? s.charCodeAt(k + 2) | 0x20 : 0;
      if (a === 115 || a === 100 || a === 109 || a === 116) k += 2; // s d m t
      else if ((a === 108 && b === 108) || (a === 118 && b === 101) || (a === 114 && b === 101)) k += 3; // ll ve re
    }
    return k;
  }
  // \p{N}{1,3}
  if (c === DIGIT) {
    k = i + 1;
    while (k < len && k < i + 3 && ASCII_CLASS[s.charCodeAt(k)] === DIGIT) k++;
    return k;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n/]*
  k = s.charCodeAt(i) === 32 ? i + 1 : i;
  if (k < len && ASCII_CLASS[s.charCodeAt(k)] === OTHER) {
    while (k < len && ASCII_CLASS[s.charCodeAt(k)] === OTHER) k++;
    while (k < len && (ASCII_CLASS[s.charCodeAt(k)] === NEWLINE || s.charCodeAt(k) === 47)) k++;
    return k;
  }
  // whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
  let lastNewline = -1;
  k = i;
  for (let w = ASCII_CLASS[s.charCodeAt(k)]; k < len && (w === SPACE || w === NEWLINE); w = ASCII_CLASS[s.charCodeAt(++k)]) {
    if (w === NEWLINE) lastNewline = k;
  }
  if (lastNewline >= 0) return lastNewline + 1;
  if (k === len || k - i === 1) return k;
  return k - 1;
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
  return oneEstimate(() => {
    let n = REPLY_PRIMING_TOKENS;
    for (const m of request.messages) n += messageTokens(m);
    if (request.tools?.length) n += estimateTokens(JSON.stringify(request.tools));
    if (request.response_format?.type === 'json_schema') n += estimateTokens(JSON.stringify(request.response_format.json_schema));
    return n;
  });
}
