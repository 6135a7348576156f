/**
 * What the gateway sends back on `/v1/responses`: the Response object and its streaming events, the
 * subset of openai-node's `resources/responses` types a chat-completions target can produce (the unit
 * tests check these against the SDK's own types).
 */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens?: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
  /** Tollgate's extension: what the request cost, USD. */
  cost?: number;
}

export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations: [];
  logprobs: [];
}

export interface RefusalPart {
  type: 'refusal';
  refusal: string;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface OutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: ItemStatus;
  content: Array<OutputTextPart | RefusalPart>;
}

export interface FunctionCallOutput {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
}

export type OutputItem = OutputMessage | FunctionCallOutput;

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: null;
  reasoning: { effort: string | null; summary: string | null };
  store: false;
  temperature: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'disabled' | 'auto';
  usage: ResponsesUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

interface Seq {
  sequence_number: number;
}

export type ResponsesStreamEvent = Seq &
  (
    | { type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete' | 'response.failed'; response: ResponseObject }
    | { type: 'response.output_item.added' | 'response.output_item.done'; output_index: number; item: OutputItem }
    | {
        type: 'response.content_part.added' | 'response.content_part.done';
        item_id: string;
        output_index: number;
        content_index: number;
        part: OutputTextPart | RefusalPart;
      }
    | { type: 'response.output_text.delta'; item_id: string; output_index: number; content_index: number; delta: string; logprobs: [] }
    | { type: 'response.output_text.done'; item_id: string; output_index: number; content_index: number; text: string; logprobs: [] }
    | { type: 'response.refusal.delta'; item_id: string; output_index: number; content_index: number; delta: string }
    | { type: 'response.refusal.done'; item_id: string; output_index: number; content_index: number; refusal: string }
    | { type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string }
    | { type: 'response.function_call_arguments.done'; item_id: string; output_index: number; name: string; arguments: string }
    | {
        type: 'error';
        code: string | null;
        message: string;
        param: string | null;
        /** openai-node throws an APIError for an event whose data carries `error`; the typed fields are kept too. */
        error: { type: string; code: string | null; message: string; param: string | null };
      }
  );
