/** Transport for Anthropic's Messages API. */
export interface AnthropicSettings {
  /** e.g. `https://api.anthropic.com` (no `/v1`). */
  baseUrl: string;
  /** The `anthropic-version` header. */
  version: string;
}

export function messagesUrl(settings: AnthropicSettings): string {
  return `${settings.baseUrl.replace(/\/+$/, '')}/v1/messages`;
}

export function requestHeaders(settings: AnthropicSettings, apiKey: string | undefined, stream: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'anthropic-version': settings.version, accept: stream ? 'text/event-stream' : 'application/json' };
  if (apiKey) headers['x-api-key'] = apiKey;
  return headers;
}
