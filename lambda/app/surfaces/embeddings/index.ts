/**
 * POST /v1/embeddings on the shared pipeline: metered on input tokens, budgeted and rate-limited like
 * chat with an output cap of 0. Providers whose adapter serves embeddings (OpenAI-compatible hosts,
 * Bedrock Titan and Cohere) are tried in the model's order; others are skipped (UnsupportedParameterError).
 * Never streamed. The gateway encodes base64 itself, so every provider serves both formats.
 */
import { BadRequestError, UnsupportedParameterError, type GatewayError } from '../../../core/errors';
import type { TokenUsage } from '../../../core/usage';
import type { EmbeddingsPlan } from '../../../providers/types';
import { defineSurface, type TargetCall, type TargetPlan } from '../../pipeline';
import type { StreamFrame } from '../../relay';
import { sseError } from '../../sse';
import { embeddingsResponse } from './response';
import { embeddingInputs, estimateEmbeddingTokens, validateEmbeddingsRequest, type EmbeddingsRequest } from './schema';

export const embeddings = defineSurface<EmbeddingsRequest>({
  name: 'embeddings',
  paths: ['/v1/embeddings'],
  kinds: ['openai-compatible', 'bedrock'],
  mode: 'embeddings',
  parse: (body) => validateEmbeddingsRequest(body),
  describe: (req) => ({
    model: req.model,
    stream: false,
    estimate: { inputTokens: estimateEmbeddingTokens(embeddingInputs(req.input)), maxOutputTokens: 0, n: 1 },
    hints: { user: req.user },
  }),
  promptText: (req) => {
    const inputs = embeddingInputs(req.input);
    return inputs.kind === 'text' ? inputs.texts.join('\n') : `${inputs.tokens.length} token arrays`;
  },
  check: (req, plan) => {
    const { checkEmbed } = embedder(plan);
    checkEmbed?.(embeddingsPlan(req, plan));
  },
  complete: (req, call) => embed(req, call),
  openStream: (): AsyncIterator<StreamFrame> => {
    throw new BadRequestError('Embeddings are not streamed.', { param: 'stream', code: 'invalid_value' });
  },
  errorBody: (error: GatewayError) => error.toBody(),
  streamError: (error: GatewayError) => sseError(error.toBody()),
});

/** The target's adapter, refused when it serves no embeddings. */
function embedder(plan: TargetPlan) {
  const { embed, checkEmbed } = plan.adapter;
  if (!embed) throw new UnsupportedParameterError(plan.target.provider, 'model', 'this provider serves no embeddings');
  return { embed: embed.bind(plan.adapter), checkEmbed: checkEmbed?.bind(plan.adapter) };
}

function embeddingsPlan(req: EmbeddingsRequest, plan: TargetPlan): EmbeddingsPlan {
  return { model: plan.target.model, input: embeddingInputs(req.input), dimensions: req.dimensions, user: req.user };
}

async function embed(req: EmbeddingsRequest, call: TargetCall) {
  const request = embeddingsPlan(req, call);
  const input = request.input;
  const result = await embedder(call).embed({ ...request, signal: call.signal, apiKey: call.apiKey });
  const usage: TokenUsage | undefined =
    result.inputTokens === undefined ? undefined : { inputTokens: result.inputTokens, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
  // No usage reported: the pipeline settles on the estimate, and the body reports the same estimate.
  const tokens = result.inputTokens ?? estimateEmbeddingTokens(input);
  return {
    usage,
    text: () => '',
    body: (cost: number | undefined) => {
      const body = embeddingsResponse(result, req.encoding_format ?? 'float', tokens);
      return cost === undefined ? body : { ...body, usage: { ...body.usage, cost } };
    },
  };
}
