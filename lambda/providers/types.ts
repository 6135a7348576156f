/**
 * The one small interface every upstream wire format implements. Adapters translate the canonical
 * OpenAI request into their wire format and translate responses, stream events, usage, finish
 * reasons and errors back. They know nothing about routing, keys, budgets or HTTP servers.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../core/openai-schema';

export interface ProviderCall {
  /** The canonical request, with `model` already replaced by the upstream model id. */
  request: ChatCompletionRequest;
  /** Aborted when the client disconnects or the target's time budget runs out. */
  signal: AbortSignal;
  /** The provider's API key, if it uses one (never logged). */
  apiKey?: string;
  /**
   * The effective output cap per choice (core/output-cap.ts): what the gatekeeper reserved for. Every
   * adapter sends exactly this as the upstream's output-token limit, whatever max_tokens /
   * max_completion_tokens the request carries, so the cap that is priced is the cap that is sent.
   */
  maxOutputTokens: number;
  /**
   * Anthropic extended thinking (from /v1/messages), budget already checked below `maxOutputTokens`.
   * Only the Bedrock adapter takes it (Converse's additionalModelRequestFields, Anthropic models only);
   * surfaces set it for no other kind.
   */
  thinking?: { budgetTokens: number };
}

/** What a chat call's mapping reads: the call without its signal and key (for `checkChat`). */
export type ChatRequestPlan = Pick<ProviderCall, 'request' | 'maxOutputTokens' | 'thinking'>;

/** One embeddings call: inputs in order, already validated (at most 2,048). */
export interface EmbeddingsCall {
  /** The upstream model id. */
  model: string;
  input: { kind: 'text'; texts: string[] } | { kind: 'tokens'; tokens: number[][] };
  dimensions?: number;
  user?: string;
  signal: AbortSignal;
  apiKey?: string;
}

/** What an embeddings call's checks read: the call without its signal and key (for `checkEmbed`). */
export type EmbeddingsPlan = Omit<EmbeddingsCall, 'signal' | 'apiKey'>;

export interface EmbeddingsResult {
  /** One vector per input, in input order. */
  vectors: number[][];
  model: string;
  /** Input tokens as the upstream reported them; undefined when it reported none. */
  inputTokens?: number;
}

/** A native Responses API call: the client's body relayed as is, with the upstream model and output cap. */
export interface ResponsesCall {
  body: Record<string, unknown>;
  signal: AbortSignal;
  apiKey?: string;
}

/** One Responses stream event from a native upstream: its `type`, raw JSON text and parsed body. */
export interface ResponsesUpstreamEvent {
  type: string;
  data: string;
  parsed: Record<string, unknown>;
}

export interface ProviderAdapter {
  /** The provider id from the config (e.g. `openai`, `my-bedrock`). */
  readonly id: string;
  /** Non-streaming call. Throws UpstreamError (or a BadRequestError for a field it cannot honour). */
  chat(call: ProviderCall): Promise<ChatCompletion>;
  /**
   * Streaming call. Errors before the first chunk (connection, non-2xx status) surface when the first
   * `next()` rejects, so the router can still fall back. Always yields a final chunk carrying `usage`
   * (choices: []) when the upstream reported usage. Ends when the upstream ends; stops and aborts the
   * upstream request if the consumer stops iterating.
   */
  chatStream(call: ProviderCall): AsyncIterable<ChatCompletionChunk>;
  /**
   * The refusals `chat` / `chatStream` make before any network call (a field this upstream cannot honour:
   * UnsupportedParameterError; a malformed part: BadRequestError), run by the same mapping code with no
   * call made. The pipeline runs it for every target before admission, so a request no target can take
   * is refused uncharged and a target that cannot take it is skipped without an attempt. Absent: the
   * adapter refuses nothing.
   */
  checkChat?(plan: ChatRequestPlan): void;
  /**
   * Embeddings, for upstreams that serve them. Throws UnsupportedParameterError for an input or option the
   * model cannot take (so the router can try the next target).
   */
  embed?(call: EmbeddingsCall): Promise<EmbeddingsResult>;
  /** The refusals `embed` makes before any network call, as `checkChat` is to `chat`. */
  checkEmbed?(plan: EmbeddingsPlan): void;
  /** Native Responses API (hosts configured with `responsesApi`): the Response object as the upstream sent it. */
  responses?(call: ResponsesCall): Promise<Record<string, unknown>>;
  /**
   * Native Responses stream: every event, in order, ending after the terminal one (`response.completed`,
   * `response.incomplete` or `response.failed`). An `error` event or a stream cut before the terminal
   * event throws UpstreamError; like chatStream, failures before the first event reject the first next().
   */
  responsesStream?(call: ResponsesCall): AsyncIterable<ResponsesUpstreamEvent>;
}
