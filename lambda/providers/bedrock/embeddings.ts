/**
 * Embeddings on Bedrock through InvokeModel, each model family in its own body format:
 * - Amazon Titan Text Embeddings (v2: `dimensions` 256/512/1024, normalised): one text per call, so a
 *   batch is sent as parallel calls, at most TITAN_CONCURRENCY at a time;
 * - Cohere Embed (v3; v4 with `dimensions` as `output_dimension`): up to COHERE_BATCH texts per call,
 *   `input_type: search_document` (OpenAI's shape has no field for it).
 * Token arrays cannot be sent to either (they take text), so they are an UnsupportedParameterError.
 * Input tokens come from Bedrock's `x-amzn-bedrock-input-token-count` response header, summed over calls.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { UnsupportedParameterError } from '../../core/errors';
import { linkedAbortController } from '../shared/abort';
import { isRecord } from '../shared/http-transport';
import { count } from '../shared/token-usage';
import { malformedResponseError } from '../shared/upstream-errors';
import type { EmbeddingsCall, EmbeddingsPlan, EmbeddingsResult } from '../types';
import { bedrockError } from './errors';
import { bedrockSdk } from './sdk';

export const COHERE_BATCH = 96;
export const TITAN_CONCURRENCY = 8;
const TITAN_V2_DIMENSIONS = [256, 512, 1024];
const COHERE_V4_DIMENSIONS = [256, 512, 1024, 1536];
const TOKEN_COUNT_HEADER = 'x-amzn-bedrock-input-token-count';

interface Invocation {
  body: unknown;
  /** Input tokens from the response header, if Bedrock sent it. */
  inputTokens?: number;
}

type Family = 'titan' | 'cohere';

function familyOf(provider: string, model: string): Family {
  if (model.includes('titan-embed-text')) return 'titan';
  if (model.includes('cohere.embed')) return 'cohere';
  throw new UnsupportedParameterError(provider, 'model', `'${model}' is not a Bedrock embeddings model Tollgate speaks (Titan Text Embeddings, Cohere Embed)`);
}

/** The refusals, before any call (the adapter's checkEmbed too): a family Tollgate speaks, text input, a size the model takes. */
export function checkBedrockEmbed(provider: string, call: EmbeddingsPlan): { family: Family; texts: string[] } {
  const family = familyOf(provider, call.model);
  if (call.input.kind === 'tokens') throw new UnsupportedParameterError(provider, 'input', 'Bedrock embeddings models take text, not token ids');
  const checked = { family, texts: call.input.texts };
  if (call.dimensions === undefined) return checked;
  if (family === 'titan') {
    const v2 = call.model.includes('titan-embed-text-v2');
    if (!(v2 && TITAN_V2_DIMENSIONS.includes(call.dimensions))) throw new UnsupportedParameterError(provider, 'dimensions', v2 ? 'Titan v2 takes 256, 512 or 1024' : 'Titan v1 has a fixed size');
  } else {
    const v4 = call.model.includes('embed-v4');
    if (!(v4 && COHERE_V4_DIMENSIONS.includes(call.dimensions))) throw new UnsupportedParameterError(provider, 'dimensions', v4 ? 'Cohere Embed v4 takes 256, 512, 1024 or 1536' : 'Cohere Embed v3 has a fixed size');
  }
  return checked;
}

export async function bedrockEmbed(provider: string, client: BedrockRuntimeClient, call: EmbeddingsCall): Promise<EmbeddingsResult> {
  const { family, texts } = checkBedrockEmbed(provider, call);
  // One failed call fails the request: the others are aborted rather than left running (and billing).
  const controller = linkedAbortController(call.signal);
  const invoke = (body: unknown) => invokeModel(provider, client, call.model, body, controller.signal, call.signal);
  try {
    const calls = family === 'titan' ? await titan(provider, call, texts, invoke) : await cohere(provider, call, texts, invoke);
    return calls;
  } catch (err) {
    controller.abort();
    throw err;
  }
}

async function titan(provider: string, call: EmbeddingsCall, texts: string[], invoke: (body: unknown) => Promise<Invocation>): Promise<EmbeddingsResult> {
  const v2 = call.model.includes('titan-embed-text-v2');
  const results = await mapBounded(texts, TITAN_CONCURRENCY, async (inputText) => {
    const res = await invoke(v2 ? { inputText, normalize: true, ...(call.dimensions ? { dimensions: call.dimensions } : {}) } : { inputText });
    const body = res.body;
    if (!isRecord(body) || !isVector(body.embedding)) throw malformedResponseError(provider, 'Titan embeddings response');
    // The body's own count is Titan's; the header is Bedrock's (the billed one) and wins when present.
    const tokens = res.inputTokens ?? (typeof body.inputTextTokenCount === 'number' ? count(body.inputTextTokenCount) : undefined);
    return { vector: body.embedding, tokens };
  });
  return { vectors: results.map((r) => r.vector), model: call.model, inputTokens: sumKnown(results.map((r) => r.tokens)) };
}

async function cohere(provider: string, call: EmbeddingsCall, texts: string[], invoke: (body: unknown) => Promise<Invocation>): Promise<EmbeddingsResult> {
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += COHERE_BATCH) batches.push(texts.slice(i, i + COHERE_BATCH));
  const results = await mapBounded(batches, TITAN_CONCURRENCY, async (batch) => {
    const res = await invoke({ texts: batch, input_type: 'search_document', ...(call.dimensions ? { output_dimension: call.dimensions } : {}) });
    const vectors = cohereVectors(res.body);
    if (!vectors || vectors.length !== batch.length) throw malformedResponseError(provider, 'Cohere embeddings response');
    return { vectors, tokens: res.inputTokens };
  });
  return { vectors: results.flatMap((r) => r.vectors), model: call.model, inputTokens: sumKnown(results.map((r) => r.tokens)) };
}

/** `embeddings: [[...]]` (embeddings_floats) or `embeddings: {float: [[...]]}` (embeddings_by_type). */
function cohereVectors(body: unknown): number[][] | undefined {
  if (!isRecord(body)) return undefined;
  const raw = isRecord(body.embeddings) ? body.embeddings.float : body.embeddings;
  return Array.isArray(raw) && raw.every(isVector) ? raw : undefined;
}

function isVector(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

/** The sum when every call reported its count; undefined (estimate instead) when any did not. */
function sumKnown(counts: ReadonlyArray<number | undefined>): number | undefined {
  let total = 0;
  for (const c of counts) {
    if (c === undefined) return undefined;
    total += c;
  }
  return total;
}

async function invokeModel(provider: string, client: BedrockRuntimeClient, modelId: string, body: unknown, signal: AbortSignal, clientSignal: AbortSignal): Promise<Invocation> {
  const command = new (bedrockSdk().InvokeModelCommand)({ modelId, body: new TextEncoder().encode(JSON.stringify(body)), contentType: 'application/json', accept: 'application/json' });
  let inputTokens: number | undefined;
  // The SDK's output has no field for Bedrock's token-count header: read it off the raw response.
  command.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const headers = (out.response as { headers?: Record<string, string> }).headers ?? {};
      const value = Number(headers[TOKEN_COUNT_HEADER]);
      if (Number.isFinite(value)) inputTokens = count(value);
      return out;
    },
    { step: 'deserialize', name: 'tollgateInputTokenCount' },
  );
  let res;
  try {
    res = await client.send(command, { abortSignal: signal });
  } catch (err) {
    throw bedrockError(provider, err, clientSignal.aborted ? clientSignal : signal);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(res.body));
  } catch (err) {
    throw malformedResponseError(provider, 'InvokeModel response', err);
  }
  return { body: parsed, inputTokens };
}

/** `fn` over `items` with at most `limit` in flight; results in input order; the first failure rejects. */
async function mapBounded<T, R>(items: ReadonlyArray<T>, limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
