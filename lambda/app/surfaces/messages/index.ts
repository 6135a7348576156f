/**
 * POST /v1/messages (Anthropic's Messages API) and POST /v1/messages/count_tokens. Routed by `model`
 * through the same aliases as chat: `anthropic` targets get the client's request as it is (passthrough.ts);
 * every other target gets it translated to the canonical chat request (to-chat.ts), served by its chat
 * adapter (Bedrock: Converse, with cache points for cache_control) and translated back (from-chat.ts).
 * Errors, before and after the first byte, are in Anthropic's shape.
 */
import { UnsupportedParameterError } from '../../../core/errors';
import { resolveModel } from '../../../core/routing';
import type { ChatRequestPlan, ProviderCall } from '../../../providers/types';
import { jsonResponse, parseJsonBody, readBodyText } from '../../http';
import { checkMode, defineSurface, type Route, type TargetCall, type TargetPlan } from '../../pipeline';
import { mapFrames } from '../../relay';
import { validateBody } from '../../validate-request';
import { estimateMessagesInput } from './estimate';
import { ChatToMessagesStream, fromChatCompletion } from './from-chat';
import { completeNative, streamNative } from './passthrough';
import { countTokensRequestSchema, messagesBodySchema, systemText, type MessagesRequest } from './schema';
import { toChatRequest } from './to-chat';
import { anthropicErrorBody, anthropicStreamError } from './wire';

interface MessagesCall {
  /** The body as the client sent it (what an Anthropic target gets). */
  raw: Record<string, unknown>;
  body: MessagesRequest;
}

export const messages = defineSurface<MessagesCall>({
  name: 'messages',
  paths: ['/v1/messages'],
  kinds: ['anthropic', 'bedrock', 'openai-compatible'],
  parse: (raw) => ({ raw: raw as Record<string, unknown>, body: validateBody(messagesBodySchema(), raw) }),
  describe: ({ body }) => ({
    model: body.model,
    stream: body.stream === true,
    estimate: { inputTokens: estimateMessagesInput(body), maxOutputTokens: body.max_tokens, n: 1 },
    hints: { user: body.metadata?.user_id ?? undefined },
  }),
  promptText: ({ body }) => {
    const turns = body.messages.map((m) => `${m.role}: ${typeof m.content === 'string' ? m.content : m.content.map((b) => (b.type === 'text' ? String(b.text) : `[${b.type}]`)).join('')}`);
    return [...(body.system ? [`system: ${systemText(body.system)}`] : []), ...turns].join('\n');
  },

  check({ body }, plan) {
    const thinking = thinkingBudget(body, plan);
    if (plan.provider.kind === 'anthropic') return;
    // The translation refuses for every adapter, one without checks of its own included: always run it.
    const request = chatRequest(body, plan, thinking);
    plan.adapter.checkChat?.(request);
  },

  async complete({ raw, body }, call) {
    const thinking = thinkingBudget(body, call);
    if (call.provider.kind === 'anthropic') return completeNative(call, call.provider, raw);
    const completion = await call.adapter.chat(chatCall(body, call, thinking));
    const usage = completion.usage;
    return {
      usage: usage ? { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, cacheReadTokens: usage.prompt_tokens_details?.cached_tokens ?? 0, cacheWriteTokens: usage.prompt_tokens_details?.cache_write_tokens ?? 0, reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 } : undefined,
      text: () => completion.choices[0]?.message?.content ?? '',
      body: (cost) => fromChatCompletion(completion, completion.model, cost),
    };
  },

  openStream({ raw, body }, call) {
    const thinking = thinkingBudget(body, call);
    if (call.provider.kind === 'anthropic') return streamNative(call, call.provider, raw);
    const chunks = call.adapter.chatStream(chatCall(body, call, thinking))[Symbol.asyncIterator]();
    const translator = new ChatToMessagesStream(call.target.model, call.cost);
    return mapFrames(chunks, (c) => translator.frame(c), () => translator.end());
  },

  errorBody: anthropicErrorBody,
  streamError: anthropicStreamError,
});

function chatRequest(body: MessagesRequest, plan: TargetPlan, thinking: ProviderCall['thinking']): ChatRequestPlan {
  // Of the chat adapters only Bedrock's takes thinking (Anthropic models there); the others refuse it.
  const thinks = plan.provider.kind === 'bedrock';
  return {
    request: toChatRequest(plan.target.provider, body, plan.target.model, thinks),
    maxOutputTokens: plan.maxOutputTokens,
    ...(thinks && thinking ? { thinking } : {}),
  };
}

function chatCall(body: MessagesRequest, call: TargetCall, thinking: ProviderCall['thinking']): ProviderCall {
  return { ...chatRequest(body, call, thinking), signal: call.signal, apiKey: call.apiKey };
}

/**
 * Thinking tokens are output tokens: the budget must fit below the max_tokens actually sent, which is the
 * gateway's output cap on this target (alias or model maximum), not only what the client asked for.
 * Too large for this target's cap: the next target may have room (400 naming the field when none has).
 */
function thinkingBudget(body: MessagesRequest, plan: TargetPlan): ProviderCall['thinking'] {
  if (body.thinking?.type !== 'enabled') return undefined;
  const budget = body.thinking.budget_tokens;
  if (budget >= plan.maxOutputTokens) {
    throw new UnsupportedParameterError(plan.target.provider, 'thinking.budget_tokens', `the thinking budget (${budget}) must be less than max_tokens, which is ${plan.maxOutputTokens} on this target after the gateway's output cap`);
  }
  return { budgetTokens: budget };
}

/** Tollgate's count (o200k, as admission counts), not Anthropic's tokenizer: free, and the same for every target. */
export const countTokens: Route = {
  name: 'messages.count_tokens',
  paths: ['/v1/messages/count_tokens'],
  errorBody: anthropicErrorBody,
  async handle(request, env) {
    await env.deps.gatekeeper.authenticate?.(request.headers, env.now());
    const body = validateBody(countTokensRequestSchema(), parseJsonBody(await readBodyText(request, env.deps.config.server.maxBodyBytes)));
    env.seen.model = body.model;
    checkMode('chat', resolveModel(env.deps.config, body.model));
    return jsonResponse(200, { input_tokens: estimateMessagesInput(body) }, env.baseHeaders);
  },
};
