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
