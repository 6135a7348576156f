/**
 * Transport for OpenAI-compatible hosts (OpenAI, Gemini's OpenAI endpoint, Mistral, DeepSeek, Groq,
 * Ollama, vLLM, ...): only the base URL and headers differ between them.
 */
export interface OpenAICompatibleSettings {
  /** Up to and including the version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Extra non-secret headers from config (e.g. an organisation id). */
  headers?: Record<string, string>;
}

export function chatCompletionsUrl(settings: OpenAICompatibleSettings): string {
  return `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
}

export function requestHeaders(settings: OpenAICompatibleSettings, apiKey: string | undefined, stream: boolean): Record<string, string> {
  const headers: Record<string, string> = { ...settings.headers, accept: stream ? 'text/event-stream' : 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}
