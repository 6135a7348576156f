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

/** Anthropic's error `type` → the HTTP status it stands for (stream `error` events carry no status). */
export function statusForErrorType(type: string): number {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
      return 429;
    case 'timeout_error':
      return 504;
    case 'overloaded_error':
      return 529;
    default:
      return 500;
  }
}
