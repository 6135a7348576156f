/**
 * Responses request → chat completions request, for targets without a native Responses API (Anthropic,
 * Bedrock, OpenAI-compatible hosts): the canonical request every adapter already maps from.
 *
 * | Responses                                   | Chat completions                                   |
 * |---------------------------------------------|----------------------------------------------------|
 * | `instructions`                              | first `system` message                             |
 * | `input` string                              | one `user` message                                 |
 * | message items (system/developer/user/assistant) | messages; `input_text`/`output_text` → text, `input_image` (URL) → `image_url` |
 * | `function_call` items                       | `tool_calls` on the assistant message they follow  |
 * | `function_call_output` items                | `tool` messages                                    |
 * | `reasoning` items                           | dropped: a chat upstream cannot take prior reasoning back |
 * | function `tools`, `tool_choice`             | `tools[].function`, `tool_choice`                  |
 * | `max_output_tokens`                         | `max_completion_tokens`                            |
 * | `reasoning.effort` (minimal…high)           | `reasoning_effort`                                 |
 * | `text.format`                               | `response_format`                                  |
 * | `safety_identifier` / `user`                | `user`                                             |
 *
 * Hints with no chat equivalent that change neither the answer's shape nor its price are accepted and not
 * forwarded: `include`, `prompt_cache_key`, `reasoning.summary`, `text.verbosity`, `stream_options`,
 * `store: false`, `truncation: "disabled"`. Anything else a chat target cannot honour (hosted tools, file
 * inputs, `truncation: "auto"`, unknown fields) is an UnsupportedParameterError naming it, so the router
 * tries the next target and the client gets a 400 only when none can serve the request.
 */
import { BadRequestError, UnsupportedParameterError } from '../../../core/errors';
import { onFirstUse } from '../../../core/on-first-use';
import type { ChatCompletionRequest, ChatMessage, ContentPart, ResponseFormat, Tool, ToolChoice } from '../../../core/openai-schema';
import {
  responsesRequestSchema,
  type ResponsesContentPart,
  type ResponsesFunctionCallItem,
  type ResponsesFunctionCallOutputItem,
  type ResponsesInputItem,
  type ResponsesMessageItem,
  type ResponsesRequest,
} from './schema';

const knownFields = onFirstUse((): ReadonlySet<string> => new Set(Object.keys(responsesRequestSchema().shape)));
const CHAT_EFFORTS = ['minimal', 'low', 'medium', 'high'] as const;

export function responsesToChat(provider: string, req: ResponsesRequest, model: string = req.model): ChatCompletionRequest {
  for (const key of Object.keys(req)) if (!knownFields().has(key)) throw new UnsupportedParameterError(provider, key);
  if (req.truncation === 'auto') throw new UnsupportedParameterError(provider, 'truncation', "only 'disabled' without a native Responses upstream");

  const messages: ChatMessage[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input });
  else req.input.forEach((item, i) => appendItem(provider, messages, item, i));
  if (messages.length === 0) throw new BadRequestError("'input' must contain at least one message.", { param: 'input', code: 'invalid_value' });

  const out: ChatCompletionRequest = { model, messages };
  if (req.tools && req.tools.length > 0) out.tools = req.tools.map((t, i) => chatTool(provider, t, i));
  if (req.tool_choice !== undefined) out.tool_choice = chatToolChoice(provider, req.tool_choice);
  if (req.parallel_tool_calls != null) out.parallel_tool_calls = req.parallel_tool_calls;
  if (req.max_output_tokens != null) out.max_completion_tokens = req.max_output_tokens;
  const effort = req.reasoning?.effort;
  if (effort != null) {
    if (!(CHAT_EFFORTS as readonly string[]).includes(effort)) throw new UnsupportedParameterError(provider, 'reasoning.effort', `'${effort}' (use minimal, low, medium or high)`);
    out.reasoning_effort = effort as (typeof CHAT_EFFORTS)[number];
  }
  const format = req.text?.format;
  if (format) out.response_format = chatResponseFormat(format);
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  if (req.metadata) out.metadata = req.metadata;
  const user = req.user ?? req.safety_identifier;
  if (user) out.user = user;
  if (req.service_tier != null) out.service_tier = req.service_tier;
  if (req.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

/** The schema only lets an item of a known `type` through if it has that type's shape, so the casts hold. */
function appendItem(provider: string, messages: ChatMessage[], item: ResponsesInputItem, i: number): void {
  const type = typeof item.type === 'string' ? item.type : 'message';
  if (type === 'message') {
    const m = item as ResponsesMessageItem;
    const param = `input[${i}].content`;
    if (m.role === 'user') messages.push({ role: 'user', content: userContent(provider, m.content, param) });
    else if (m.role === 'assistant') {
      const { text, refusal } = assistantContent(provider, m.content, param);
      messages.push({ role: 'assistant', content: text, ...(refusal ? { refusal } : {}) });
    } else messages.push({ role: m.role, content: plainText(provider, m.content, param) });
    return;
  }
  if (type === 'function_call') {
    const fc = item as ResponsesFunctionCallItem;
    const call = { id: fc.call_id, type: 'function' as const, function: { name: fc.name, arguments: fc.arguments } };
    const last = messages[messages.length - 1];
    // Parallel calls arrive as consecutive items; chat wants them on one assistant message.
    if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
    else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    return;
  }
  if (type === 'function_call_output') {
    const out = item as ResponsesFunctionCallOutputItem;
    messages.push({ role: 'tool', tool_call_id: out.call_id, content: plainText(provider, out.output, `input[${i}].output`) });
    return;
  }
  if (type === 'reasoning') return;
  throw new UnsupportedParameterError(provider, `input[${i}].type`, `'${type}' items need a native Responses upstream`);
}

function userContent(provider: string, content: string | ResponsesContentPart[], param: string): string | ContentPart[] {
  if (typeof content === 'string') return content;
  const parts: ContentPart[] = content.map((part, j) => {
    if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: part.text };
    if (part.type === 'input_image' && part.image_url) {
      return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } };
    }
    throw new UnsupportedParameterError(provider, `${param}[${j}]`, `'${part.type}' parts other than image URLs need a native Responses upstream`);
  });
  if (parts.length === 0) throw new BadRequestError('A user message needs at least one content part.', { param, code: 'invalid_value' });
  return parts;
}

function assistantContent(provider: string, content: string | ResponsesContentPart[], param: string): { text: string; refusal?: string } {
  if (typeof content === 'string') return { text: content };
  let text = '';
  let refusal: string | undefined;
  content.forEach((part, j) => {
    if (part.type === 'output_text' || part.type === 'input_text') text += part.text;
    else if (part.type === 'refusal') refusal = (refusal ?? '') + part.refusal;
    else throw new UnsupportedParameterError(provider, `${param}[${j}]`, `'${part.type}' in an assistant message`);
  });
  return refusal === undefined ? { text } : { text, refusal };
}

/** System, developer and tool messages carry text only. */
function plainText(provider: string, content: string | ResponsesContentPart[], param: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type === 'input_text' || part.type === 'output_text') return part.text;
      throw new UnsupportedParameterError(provider, `${param}[${j}]`, `'${part.type}' here needs a native Responses upstream`);
    })
    .join('');
}

function chatTool(provider: string, tool: NonNullable<ResponsesRequest['tools']>[number], i: number): Tool {
  if (tool.type !== 'function' || !('name' in tool) || typeof tool.name !== 'string') {
    throw new UnsupportedParameterError(provider, `tools[${i}].type`, `'${tool.type}' tools need a native Responses upstream`);
  }
  const fn = tool as Extract<typeof tool, { name: string }>;
  return {
    type: 'function',
    function: {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      ...(fn.parameters ? { parameters: fn.parameters as Record<string, unknown> } : {}),
      ...(typeof fn.strict === 'boolean' ? { strict: fn.strict } : {}),
    },
  };
}

function chatToolChoice(provider: string, choice: NonNullable<ResponsesRequest['tool_choice']>): ToolChoice {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function' && 'name' in choice && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } };
  throw new UnsupportedParameterError(provider, 'tool_choice', `'${choice.type}' needs a native Responses upstream`);
}

function chatResponseFormat(format: NonNullable<NonNullable<ResponsesRequest['text']>['format']>): ResponseFormat {
  if (format.type !== 'json_schema') return { type: format.type };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name,
      schema: format.schema,
      ...(format.description !== undefined ? { description: format.description } : {}),
      ...(format.strict != null ? { strict: format.strict } : {}),
    },
  };
}
