/**
 * POST /v1/chat/completions: the canonical surface. Every provider adapter speaks it, so the provider
 * mapping is the adapter's own `chat` / `chatStream`; what is left here is the OpenAI framing (SSE chunks,
 * `[DONE]`, usage only when `stream_options.include_usage` asked for it) and `usage.cost`.
 */
import type { GatewayError } from '../../../core/errors';
import { contentText, requestedMaxTokens, type ChatCompletionChunk, type ChatCompletionRequest, type Usage } from '../../../core/openai-schema';
import { requestEvidence } from '../../../core/request-evidence';
import { estimateInputTokens } from '../../../core/token-estimate';
import { fromOpenAIUsage } from '../../../core/usage';
import type { ChatRequestPlan, ProviderCall } from '../../../providers/types';
import { defineSurface, type TargetCall, type TargetPlan } from '../../pipeline';
import { mapFrames, type StreamFrame } from '../../relay';
import { merged } from '../../../core/plain-object';
import { SSE_DONE, sseChunk, sseError } from '../../sse';
import { validateChatRequest } from '../../validate-request';

export const chatCompletions = defineSurface<ChatCompletionRequest>({
  name: 'chat.completions',
  paths: ['/v1/chat/completions'],
  kinds: 'any',
  parse: (body) => validateChatRequest(body),
  describe: (req) => ({
    model: req.model,
    stream: req.stream === true,
    estimate: { inputTokens: estimateInputTokens(req), maxOutputTokens: requestedMaxTokens(req), n: req.n ?? 1 },
    hints: { metadata: req.metadata, user: req.user },
  }),
  evidence: (req, cap) => requestEvidence(req, cap),
  promptText: (req) => req.messages.map((m) => `${m.role}: ${contentText(m.content as Parameters<typeof contentText>[0])}`).join('\n'),

  check: (req, plan) => {
    const request = chatRequest(req, plan);
    plan.adapter.checkChat?.(request);
  },

  async complete(req, call) {
    const completion = await call.adapter.chat(providerCall(req, call));
    const usage = fromOpenAIUsage(completion.usage);
    const text = () => contentText(completion.choices[0]?.message?.content ?? '');
    return {
      usage,
      text,
      body: (cost) => (completion.usage && cost !== undefined ? { ...completion, usage: withCost(completion.usage, cost) } : completion),
    };
  },

  openStream(req, call) {
    const includeUsage = req.stream_options?.include_usage === true;
    const chunks = call.adapter.chatStream(providerCall(req, call))[Symbol.asyncIterator]();
    return mapFrames(
      chunks,
      (chunk): StreamFrame => {
        const usage = chunk.usage ? fromOpenAIUsage(chunk.usage) : undefined;
        const out = includeUsage ? withChunkCost(chunk, call) : withoutUsage(chunk);
        return { usage, text: chunkText(chunk), bytes: out ? sseChunk(out) : undefined };
      },
      () => ({ bytes: SSE_DONE, final: true }),
    );
  },

  errorBody: (error: GatewayError) => error.toBody(),
  streamError: (error: GatewayError) => sseError(error.toBody()),
});

function chatRequest(req: ChatCompletionRequest, plan: TargetPlan): ChatRequestPlan {
  return { request: { ...req, model: plan.target.model }, maxOutputTokens: plan.maxOutputTokens };
}

function providerCall(req: ChatCompletionRequest, call: TargetCall): ProviderCall {
  return merged(chatRequest(req, call), { signal: call.signal, apiKey: call.apiKey });
}

/** OpenRouter's convention: `usage.cost` in USD. */
function withCost(usage: Usage, cost: number): Usage & { cost: number } {
  return merged(usage, { cost });
}

function withChunkCost(chunk: ChatCompletionChunk, call: TargetCall): ChatCompletionChunk {
  if (chunk.usage == null) return chunk;
  const cost = call.cost(fromOpenAIUsage(chunk.usage)!);
  return cost === undefined ? chunk : { ...chunk, usage: withCost(chunk.usage, cost) };
}

function chunkText(chunk: ChatCompletionChunk): string {
  let text = '';
  for (const choice of chunk.choices) {
    // Tolerate a choice without `delta` (seen from loose OpenAI-compatible hosts).
    const delta = choice.delta as typeof choice.delta | undefined;
    if (delta?.content) text += delta.content;
    for (const c of delta?.tool_calls ?? []) text += (c.function?.name ?? '') + (c.function?.arguments ?? '');
  }
  return text;
}

/** The client did not ask for usage: drop the usage-only chunk and usage fields (we still read them). */
function withoutUsage(chunk: ChatCompletionChunk): ChatCompletionChunk | undefined {
  if (chunk.usage == null) return chunk;
  if (chunk.choices.length === 0) return undefined;
  const { usage: _usage, ...rest } = chunk;
  return rest;
}
