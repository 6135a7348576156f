/**
 * Messages request → the canonical chat request, for targets that are not Anthropic (Bedrock through the
 * Converse adapter, OpenAI-compatible hosts). What chat cannot carry is refused with an
 * UnsupportedParameterError (the router then tries the next target; 400 naming the field if none can):
 * top_k, extended thinking on targets other than Anthropic models on Bedrock, server tools, block types
 * added after this was written. Thinking blocks in the history are Anthropic's own signed output: they go
 * along when thinking is on (to Bedrock), and mean nothing elsewhere (left out).
 */
import { UnsupportedParameterError } from '../../../core/errors';
import type { ChatCompletionRequest, ChatMessage, ContentPart, TextPart, ThinkingBlock, Tool, ToolCall } from '../../../core/openai-schema';
import type { ContentBlock, MessageParam, MessagesRequest, TextBlock, ToolResultBlock } from './schema';

/** Top-level fields the translation understands; anything else is Anthropic-only. */
const TRANSLATABLE = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'stream',
  'stop_sequences',
  'temperature',
  'top_p',
  'top_k',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
]);

/**
 * `thinks`: the target takes extended thinking (Bedrock: ProviderCall.thinking); then the history's
 * thinking blocks go along, as a tool loop with thinking must send them back.
 */
export function toChatRequest(provider: string, req: MessagesRequest, model: string, thinks = false): ChatCompletionRequest {
  for (const key of Object.keys(req)) if (!TRANSLATABLE.has(key)) throw new UnsupportedParameterError(provider, key);
  if (req.top_k !== undefined) throw new UnsupportedParameterError(provider, 'top_k');
  const thinking = req.thinking?.type === 'enabled';
  if (thinking && !thinks) throw new UnsupportedParameterError(provider, 'thinking', 'extended thinking needs an Anthropic model (on Anthropic or Bedrock)');
  const messages: ChatMessage[] = [];
  const system = systemMessage(req.system);
  if (system) messages.push(system);
  req.messages.forEach((m, i) => messages.push(...toChatMessages(provider, m, i, thinking)));
  const out: ChatCompletionRequest = { model, messages, max_tokens: req.max_tokens };
  if (req.stream) out.stream = true;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.stop_sequences && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t, i): Tool => {
      if (t.type !== undefined && t.type !== 'custom') throw new UnsupportedParameterError(provider, `tools[${i}]`, `server tool '${t.type}'`);
      return {
        type: 'function',
        function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } },
        ...(t.cache_control ? { cache_control: t.cache_control } : {}),
      };
    });
    const choice = req.tool_choice;
    if (choice) {
      if (choice.type === 'auto') out.tool_choice = 'auto';
      else if (choice.type === 'any') out.tool_choice = 'required';
      else if (choice.type === 'none') out.tool_choice = 'none';
      else out.tool_choice = { type: 'function', function: { name: choice.name } };
      if (choice.type !== 'none' && choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
    }
  }
  return out;
}

function systemMessage(system: MessagesRequest['system']): ChatMessage | undefined {
  if (system === undefined || system.length === 0) return undefined;
  if (typeof system === 'string') return { role: 'system', content: system };
  return { role: 'system', content: system.map(textPart) };
}

function textPart(b: TextBlock): TextPart {
  return { type: 'text', text: b.text, ...(b.cache_control ? { cache_control: b.cache_control } : {}) };
}

function toChatMessages(provider: string, m: MessageParam, i: number, thinking: boolean): ChatMessage[] {
  if (typeof m.content === 'string') return [m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content }];
  return m.role === 'user' ? userMessages(provider, m.content, i) : [assistantMessage(provider, m.content, i, thinking)];
}

/** Tool results become tool messages (first: they answer the previous assistant turn), the rest one user message. */
function userMessages(provider: string, blocks: ContentBlock[], i: number): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  blocks.forEach((b, j) => {
    const param = `messages[${i}].content[${j}]`;
    switch (b.type) {
      case 'text':
        parts.push(textPart(b as TextBlock));
        return;
      case 'image':
        parts.push(imagePart(b as Extract<ContentBlock, { type: 'image' }>));
        return;
      case 'tool_result':
        tools.push(toolMessage(provider, b as ToolResultBlock, param));
        return;
      default:
        throw new UnsupportedParameterError(provider, param, `content block '${b.type}'`);
    }
  });
  return parts.length > 0 ? [...tools, { role: 'user', content: parts }] : tools;
}

function imagePart(b: Extract<ContentBlock, { type: 'image' }>): ContentPart {
  const source = (b as { source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string } }).source;
  const url = source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
  const cache = (b as { cache_control?: TextPart['cache_control'] | null }).cache_control;
  return { type: 'image_url', image_url: { url }, ...(cache ? { cache_control: cache } : {}) };
}

function toolMessage(provider: string, b: ToolResultBlock, param: string): ChatMessage {
  const content = b.content ?? '';
  let parts: TextPart[];
  if (typeof content === 'string') {
    parts = [{ type: 'text', text: content }];
  } else {
    parts = content.map((c, k) => {
      if (c.type !== 'text') throw new UnsupportedParameterError(provider, `${param}.content[${k}]`, 'images in tool results need an Anthropic target');
      return textPart(c as TextBlock);
    });
  }
  // An error result keeps its flag as words: chat has no is_error.
  if (b.is_error) parts = [{ type: 'text', text: 'Error: ' }, ...parts];
  if (b.cache_control && parts.length > 0) parts[parts.length - 1] = { ...parts[parts.length - 1], cache_control: b.cache_control };
  const simple = parts.every((p) => !p.cache_control);
  return { role: 'tool', tool_call_id: b.tool_use_id, content: simple ? parts.map((p) => p.text).join('') : parts };
}

function assistantMessage(provider: string, blocks: ContentBlock[], i: number, thinking: boolean): ChatMessage {
  let text = '';
  const toolCalls: ToolCall[] = [];
  const thoughts: ThinkingBlock[] = [];
  blocks.forEach((b, j) => {
    if (b.type === 'text') text += (b as TextBlock).text;
    else if (thinking && b.type === 'thinking') thoughts.push({ type: 'thinking', thinking: String(b.thinking), signature: String(b.signature ?? '') });
    else if (thinking && b.type === 'redacted_thinking') thoughts.push({ type: 'redacted_thinking', data: String(b.data) });
    else if (b.type === 'tool_use') {
      const use = b as Extract<ContentBlock, { type: 'tool_use' }> & { id: string; name: string; input: Record<string, unknown> };
      toolCalls.push({ id: use.id, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input) } });
    } else if (b.type !== 'thinking' && b.type !== 'redacted_thinking') {
      throw new UnsupportedParameterError(provider, `messages[${i}].content[${j}]`, `content block '${b.type}'`);
    }
  });
  return {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    ...(thoughts.length > 0 ? { thinking_blocks: thoughts } : {}),
  };
}
