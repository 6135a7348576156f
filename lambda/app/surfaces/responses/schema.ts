/**
 * The OpenAI Responses API request (`POST /v1/responses`), stateless, validated with zod. Known fields are
 * typed; unknown top-level fields are kept (a native Responses upstream may understand them) and refused
 * by the translation to chat completions, which names them (never silently dropped).
 *
 * Tollgate keeps no conversation state: `store: true`, `previous_response_id`, `conversation`,
 * `background: true` and `item_reference` inputs would need responses kept on the gateway, so they are
 * refused with a 400 that says so. Clients send the whole conversation each turn (Codex does).
 */
import * as z from 'zod';
import { BadRequestError } from '../../../core/errors';
import { onFirstUse } from '../../../core/on-first-use';
import { validateBody } from '../../validate-request';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A union decided by the value's own shape (its `type`, or string vs array), so a malformed value is
 * reported against the schema it was meant for ("tools[0].name is missing"), not as "matches nothing".
 */
function dispatch<T>(pick: (value: unknown) => z.ZodType<T>) {
  return z.unknown().transform((value, ctx): T => {
    const parsed = pick(value).safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });
}

/** Built on the first request of this surface (on-first-use.ts), not at a cold start. */
const schemas = onFirstUse(() => {
  const inputText = z.object({ type: z.literal('input_text'), text: z.string() });
  const inputImage = z.object({
    type: z.literal('input_image'),
    image_url: z.string().min(1).nullable().optional(),
    file_id: z.string().nullable().optional(),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  });
  const inputFile = z.object({ type: z.literal('input_file') }).loose();
  const outputText = z.object({ type: z.literal('output_text'), text: z.string() }).loose();
  const refusal = z.object({ type: z.literal('refusal'), refusal: z.string() });
  const contentPart = z.discriminatedUnion('type', [inputText, inputImage, inputFile, outputText, refusal]);

  const messageItem = z.object({
    type: z.literal('message').optional(),
    id: z.string().optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']),
    content: z.union([z.string(), z.array(contentPart)]),
    status: z.string().optional(),
  });
  const functionCallItem = z.object({
    type: z.literal('function_call'),
    id: z.string().optional(),
    call_id: z.string().min(1),
    name: z.string().min(1),
    arguments: z.string(),
    status: z.string().optional(),
  });
  const functionCallOutputItem = z.object({
    type: z.literal('function_call_output'),
    id: z.string().nullable().optional(),
    call_id: z.string().min(1),
    output: z.union([z.string(), z.array(contentPart)]),
    status: z.string().nullable().optional(),
  });
  const reasoningItem = z.object({ type: z.literal('reasoning') }).loose();
  const itemReference = z.object({ type: z.literal('item_reference'), id: z.string() });
  /** Other item types (shell calls, custom tool calls, ...): kept for a native upstream, refused by translation. */
  const otherItem = z.object({ type: z.string().min(1) }).loose();

  const ITEM_SCHEMAS: Record<string, z.ZodType> = {
    message: messageItem,
    function_call: functionCallItem,
    function_call_output: functionCallOutputItem,
    reasoning: reasoningItem,
    item_reference: itemReference,
  };
  type KnownItem = z.infer<typeof messageItem> | z.infer<typeof functionCallItem> | z.infer<typeof functionCallOutputItem> | z.infer<typeof reasoningItem> | z.infer<typeof itemReference>;

  /**
   * Dispatch on `type` (a message may omit it), so a malformed item is reported against its own shape
   * ("input[0].call_id is missing"), not as "matches no item type".
   */
  const inputItem = dispatch<KnownItem | z.infer<typeof otherItem>>((v) => {
    const type = isRecord(v) && typeof v.type === 'string' ? v.type : isRecord(v) && v.type === undefined ? 'message' : undefined;
    if (type === undefined) return otherItem;
    return (Object.hasOwn(ITEM_SCHEMAS, type) ? ITEM_SCHEMAS[type] : otherItem) as z.ZodType<KnownItem>;
  });

  const functionTool = z.object({
    type: z.literal('function'),
    name: z.string().min(1),
    description: z.string().nullable().optional(),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
    strict: z.boolean().nullable().optional(),
  });
  const otherTool = z.object({ type: z.string().min(1) }).loose();
  const tool = dispatch<z.infer<typeof functionTool> | z.infer<typeof otherTool>>((v) => (isRecord(v) && v.type === 'function' ? functionTool : otherTool));

  const toolChoice = z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), name: z.string().min(1) }),
    z.object({ type: z.string().refine((t) => t !== 'function', "needs a 'name'") }).loose(),
  ]);

  const textFormat = z.discriminatedUnion('type', [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      name: z.string().min(1),
      schema: z.record(z.string(), z.unknown()),
      description: z.string().optional(),
      strict: z.boolean().nullable().optional(),
    }),
  ]);

  const responsesRequestSchema = z.looseObject({
    model: z.string().min(1),
    input: dispatch<string | Array<z.infer<typeof inputItem>>>((v) => (Array.isArray(v) ? z.array(inputItem) : z.string())),
    instructions: z.string().nullable().optional(),
    tools: z.array(tool).optional(),
    tool_choice: toolChoice.optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    max_output_tokens: z.number().int().positive().nullable().optional(),
    reasoning: z
      .object({
        effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable().optional(),
        summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
        generate_summary: z.enum(['auto', 'concise', 'detailed']).nullable().optional(),
      })
      .nullable()
      .optional(),
    text: z.object({ format: textFormat.optional(), verbosity: z.enum(['low', 'medium', 'high']).nullable().optional() }).optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_obfuscation: z.boolean().optional() }).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    user: z.string().optional(),
    safety_identifier: z.string().optional(),
    store: z.boolean().nullable().optional(),
    previous_response_id: z.string().nullable().optional(),
    conversation: z.unknown().optional(),
    background: z.boolean().nullable().optional(),
    include: z.array(z.string()).nullable().optional(),
    prompt_cache_key: z.string().optional(),
    service_tier: z.string().nullable().optional(),
    truncation: z.enum(['auto', 'disabled']).nullable().optional(),
  });
  return { inputText, inputImage, inputFile, outputText, refusal, contentPart, messageItem, functionCallItem, functionCallOutputItem, reasoningItem, itemReference, otherItem, inputItem, functionTool, otherTool, tool, toolChoice, textFormat, responsesRequestSchema };
});
type Schemas = ReturnType<typeof schemas>;
export const responsesRequestSchema = (): Schemas['responsesRequestSchema'] => schemas().responsesRequestSchema;
export type ResponsesContentPart = z.infer<Schemas['contentPart']>;
export type ResponsesInputItem = z.infer<Schemas['inputItem']>;
export type ResponsesMessageItem = z.infer<Schemas['messageItem']>;
export type ResponsesFunctionCallItem = z.infer<Schemas['functionCallItem']>;
export type ResponsesFunctionCallOutputItem = z.infer<Schemas['functionCallOutputItem']>;
export type ResponsesFunctionTool = z.infer<Schemas['functionTool']>;
export type ResponsesTool = z.infer<Schemas['tool']>;
export type ResponsesToolChoice = z.infer<Schemas['toolChoice']>;
export type ResponsesRequest = z.infer<Schemas['responsesRequestSchema']>;

/** Validated request; 400 for bad shapes and for anything that needs state on the gateway. */
export function validateResponsesRequest(body: unknown): ResponsesRequest {
  const req = validateBody(responsesRequestSchema(), body);
  rejectStateful(req);
  return req;
}

const NO_STATE = 'Tollgate keeps no conversation state (it stores no responses), so';

function rejectStateful(req: ResponsesRequest): void {
  const refuse = (param: string, what: string) => {
    throw new BadRequestError(`${NO_STATE} ${what} is not supported. Send the whole conversation in 'input' instead.`, {
      param,
      code: 'stateful_responses_not_supported',
    });
  };
  if (req.store === true) refuse('store', "'store: true'");
  if (req.previous_response_id) refuse('previous_response_id', "'previous_response_id'");
  if (req.conversation !== undefined && req.conversation !== null) refuse('conversation', "'conversation'");
  if (req.background === true) refuse('background', "'background: true' (it needs the response stored for polling)");
  if (Array.isArray(req.input)) {
    req.input.forEach((item, i) => {
      if ('type' in item && item.type === 'item_reference') refuse(`input[${i}]`, 'an item_reference input');
    });
  }
}
