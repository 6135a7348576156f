/**
 * Transport for OpenAI-compatible hosts (OpenAI, Gemini's OpenAI endpoint, Mistral, DeepSeek, Groq,
 * Ollama, vLLM, ...): only the base URL and headers differ between them.
 */
export interface OpenAICompatibleSettings {
  /** Up to and including the version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Extra non-secret headers from config (e.g. an organisation id). */
  headers?: Record<string, string>;
  /**
   * Whether to send `stream_options: {include_usage: true}` on streams. Defaults to true except for hosts
   * known to reject the field (see below), which report usage in their last chunk anyway.
   */
  streamOptions?: boolean;
  /**
   * The field the output cap is sent in when the client used neither spelling. Default:
   * `max_completion_tokens` for api.openai.com (its reasoning models refuse `max_tokens`), `max_tokens`
   * elsewhere (the spelling every compatible host knows).
   */
  maxTokensField?: MaxTokensField;
}

export type MaxTokensField = 'max_tokens' | 'max_completion_tokens';

/** Hosts that want `max_completion_tokens` (OpenAI's o-series and gpt-5 reject `max_tokens`). */
const HOSTS_WANTING_MAX_COMPLETION_TOKENS: ReadonlySet<string> = new Set(['api.openai.com']);

/**
 * Which field carries the output cap upstream: the configured one; else the one the client used
 * (`max_completion_tokens` if it sent it at all, since a client that knows it targets a reasoning model);
 * else the host's default. Exactly one field is ever sent.
 */
export function maxTokensField(settings: OpenAICompatibleSettings, request: { max_tokens?: number | null; max_completion_tokens?: number | null }): MaxTokensField {
  if (settings.maxTokensField) return settings.maxTokensField;
  if (request.max_completion_tokens != null) return 'max_completion_tokens';
  if (request.max_tokens != null) return 'max_tokens';
  try {
    return HOSTS_WANTING_MAX_COMPLETION_TOKENS.has(new URL(settings.baseUrl).hostname) ? 'max_completion_tokens' : 'max_tokens';
  } catch {
    return 'max_tokens';
  }
}

/** Hosts whose schema forbids `stream_options` (422 extra_forbidden) but that always stream usage. */
const HOSTS_WITHOUT_STREAM_OPTIONS: ReadonlySet<string> = new Set(['api.mistral.ai']);

export function sendsStreamOptions(settings: OpenAICompatibleSettings): boolean {
  if (settings.streamOptions !== undefined) return settings.streamOptions;
  try {
    return !HOSTS_WITHOUT_STREAM_OPTIONS.has(new URL(settings.baseUrl).hostname);
  } catch {
    return true;
  }
}

export function chatCompletionsUrl(settings: OpenAICompatibleSettings): string {
  return `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
}

export function requestHeaders(settings: OpenAICompatibleSettings, apiKey: string | undefined, stream: boolean): Record<string, string> {
  const headers: Record<string, string> = { ...settings.headers, accept: stream ? 'text/event-stream' : 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}
