/**
 * Input tokens of a Messages request, counted as admission counts chat requests (o200k, the same per-message
 * and per-image allowances): system, every block's text, tool inputs and results, tool definitions.
 * Also the answer of POST /v1/messages/count_tokens.
 */
import { IMAGE_TOKENS, estimateTokens } from '../../../core/token-estimate';
import type { ContentBlock, CountTokensRequest } from './schema';
import { systemText } from './schema';

const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

export function estimateMessagesInput(req: CountTokensRequest): number {
  let n = REPLY_PRIMING_TOKENS + estimateTokens(systemText(req.system));
  for (const m of req.messages) {
    n += TOKENS_PER_MESSAGE;
    if (typeof m.content === 'string') n += estimateTokens(m.content);
    else for (const b of m.content) n += blockTokens(b);
  }
  if (req.tools?.length) n += estimateTokens(JSON.stringify(req.tools));
  return n;
}

function blockTokens(b: ContentBlock): number {
  const r = b as Record<string, unknown>;
  switch (b.type) {
    case 'image':
      return IMAGE_TOKENS;
    case 'text':
      return estimateTokens(String(r.text));
    case 'thinking':
      return estimateTokens(String(r.thinking));
    case 'tool_use':
      return estimateTokens(String(r.name)) + estimateTokens(JSON.stringify(r.input ?? {})) + 3;
    case 'tool_result': {
      const content = r.content;
      if (typeof content === 'string') return estimateTokens(content) + 3;
      let n = 3;
      if (Array.isArray(content)) for (const c of content as ContentBlock[]) n += blockTokens(c);
      return n;
    }
    default:
      // Documents, server tool blocks, redacted thinking: their JSON, an upper bound of what they carry.
      return estimateTokens(JSON.stringify(b));
  }
}
