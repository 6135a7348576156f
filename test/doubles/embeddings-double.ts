/**
 * Embeddings wire formats for the doubles: OpenAI's `POST /v1/embeddings` and Bedrock's InvokeModel
 * bodies for Titan Text Embeddings and Cohere Embed (with Bedrock's input-token-count header). Vectors
 * are deterministic functions of the input, so a test can check each vector came back in its place.
 */
import { type DoubleBehaviour, type RecordedRequest, type ResponseWriter } from './http-double';

export const DEFAULT_DIMENSIONS = 16;

/** The vector the doubles return for one input: [length, first char code (or token), 0.5, 0.25, ...]. */
export function doubleVector(input: string | number[], dimensions = DEFAULT_DIMENSIONS): number[] {
  const head = typeof input === 'string' ? [input.length, input.charCodeAt(0)] : [input.length, input[0] ?? 0];
  return Array.from({ length: dimensions }, (_, i) => (i < 2 ? head[i] : 1 / 2 ** (i - 1)));
}

/** Tokens the doubles report for a text: its whitespace-separated words (at least 1). */
export function doubleTokens(input: string | number[]): number {
  return typeof input === 'string' ? Math.max(1, input.split(/\s+/).filter(Boolean).length) : input.length;
}

function bodyOf(request: RecordedRequest): Record<string, unknown> {
  return typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
}

function reportedTokens(b: DoubleBehaviour, inputs: ReadonlyArray<string | number[]>): number | null {
  if (b.kind === 'ok' && b.usage === null) return null;
  if (b.kind === 'ok' && b.usage) return b.usage.promptTokens;
  return inputs.reduce((n: number, x) => n + doubleTokens(x), 0);
}

/** OpenAI `POST /v1/embeddings`; `malformedChunk` answers one vector short. */
export function renderOpenAIEmbeddings(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest): void {
  const body = bodyOf(request);
  const raw = body.input;
  const inputs: Array<string | number[]> =
    typeof raw === 'string' ? [raw] : Array.isArray(raw) && raw.every((x) => typeof x === 'number') ? [raw as number[]] : ((raw ?? []) as Array<string | number[]>);
  const dims = typeof body.dimensions === 'number' ? body.dimensions : DEFAULT_DIMENSIONS;
  const vectors = inputs.map((x) => doubleVector(x, dims));
  if (b.kind === 'malformedChunk') vectors.pop();
  const tokens = reportedTokens(b, inputs);
  w.json(200, {
    object: 'list',
    // Out of order on purpose, as index says where each belongs (hosts do not promise order).
    data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })).reverse(),
    model: typeof body.model === 'string' ? body.model : 'text-embedding-double',
    ...(tokens === null ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }),
  });
}

/** Bedrock InvokeModel for `…titan-embed-text…` and `…cohere.embed…` model ids. */
export function renderBedrockEmbeddings(w: ResponseWriter, b: DoubleBehaviour, request: RecordedRequest, modelId: string): void {
  const body = bodyOf(request);
  const validation = (message: string) => w.json(400, { message }, { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' });
  const withCount = (inputs: string[]): Record<string, string> => {
    const tokens = reportedTokens(b, inputs);
    return { 'x-amzn-requestid': 'req-double', ...(tokens === null ? {} : { 'x-amzn-bedrock-input-token-count': String(tokens) }) };
  };
  if (modelId.includes('titan-embed-text')) {
    if (typeof body.inputText !== 'string' || body.inputText === '') return validation('Malformed input request: #: required key [inputText] not found');
    const dims = typeof body.dimensions === 'number' ? body.dimensions : DEFAULT_DIMENSIONS;
    w.json(200, { embedding: doubleVector(body.inputText, dims), embeddingsByType: { float: doubleVector(body.inputText, dims) }, inputTextTokenCount: doubleTokens(body.inputText) }, withCount([body.inputText]));
    return;
  }
  if (modelId.includes('cohere.embed')) {
    const texts = body.texts;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) return validation('Malformed input request: texts must be an array of strings');
    if (texts.length > 96) return validation('Malformed input request: #/texts: expected maxItems: 96, actual: ' + texts.length);
    if (typeof body.input_type !== 'string') return validation('Malformed input request: #: required key [input_type] not found');
    w.json(200, { id: 'emb-double', embeddings: texts.map((t: string) => doubleVector(t)), response_type: 'embeddings_floats', texts }, withCount(texts as string[]));
    return;
  }
  w.json(404, { message: `The model ${modelId} does not exist.` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
}

