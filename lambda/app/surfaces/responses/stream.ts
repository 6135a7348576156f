/**
 * Chat completion chunks → Responses streaming events, for targets without a native Responses API. One
 * builder per stream. Events follow OpenAI's order: `response.created`, `response.in_progress`; per output
 * item `output_item.added`, (message) `content_part.added`, text deltas, `output_text.done`,
 * `content_part.done`, (function call) argument deltas, `function_call_arguments.done`; then
 * `output_item.done`; finally `response.completed` (or `response.incomplete`) carrying the whole response
 * and its usage. Every event has the next `sequence_number`, from 0 (ResponseSequence).
 */
import type { GatewayError } from '../../../core/errors';
import type { ChatCompletionChunk, FinishReason } from '../../../core/openai-schema';
import { fromOpenAIUsage, type TokenUsage } from '../../../core/usage';
import { finalStatus, functionCallItem, messageItem, toResponsesUsage, type IdSource } from './from-chat';
import type { FunctionCallOutput, OutputItem, OutputMessage, ResponseObject, ResponsesStreamEvent } from './wire-types';

/** The `error` event (OpenAI's typed fields, plus `error`, which makes openai-node throw an APIError). */
export function errorEventBody(error: GatewayError): Extract<EventBody, { type: 'error' }> {
  const body = error.toBody().error;
  return { type: 'error', code: body.code, message: body.message, param: body.param, error: body };
}

/**
 * One streamed response's identity and event numbering, one per request: its opening events (sent at
 * admission), whichever target attempt serves it, and the relay's error event all draw from the same
 * counter, so every event the client sees has the next `sequence_number`, from 0.
 */
export class ResponseSequence {
  private n = 0;
  constructor(
    readonly id: string,
    readonly createdAt: number,
  ) {}

  next(): number {
    return this.n++;
  }
}

const encoder = new TextEncoder();

/** Events as OpenAI frames them: `event: <type>` and `data: <json>`. */
export function responsesSse(events: ReadonlyArray<{ type: string }>): Uint8Array {
  return encoder.encode(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
}

type EventBody = ResponsesStreamEvent extends infer E ? (E extends unknown ? Omit<E, 'sequence_number'> : never) : never;

interface OpenMessage {
  kind: 'message';
  index: number;
  item: OutputMessage;
  text: string;
  refusal: string;
}
interface OpenCall {
  kind: 'call';
  index: number;
  item: FunctionCallOutput;
}

export class ChatToResponsesStream {
  private readonly output: OutputItem[] = [];
  private message: OpenMessage | undefined;
  /** Chat tool_calls index → the open function_call item. */
  private readonly calls = new Map<number, OpenCall>();
  private finish: FinishReason | null = null;
  /** Usage as the upstream reported it (undefined when it reported none). */
  usage: TokenUsage | undefined;

  constructor(
    private readonly shell: ResponseObject,
    private readonly ids: IdSource,
    /** The request's counter, when events before (the opening ones) or after (an error) come from elsewhere. */
    private readonly sequence: Pick<ResponseSequence, 'next'> = new ResponseSequence(shell.id, shell.created_at),
  ) {}

  /** `response.created` and `response.in_progress`. */
  start(): ResponsesStreamEvent[] {
    return [this.event({ type: 'response.created', response: this.snapshot() }), this.event({ type: 'response.in_progress', response: this.snapshot() })];
  }

  chunk(chunk: ChatCompletionChunk): ResponsesStreamEvent[] {
    const out: ResponsesStreamEvent[] = [];
    if (chunk.usage) this.usage = fromOpenAIUsage(chunk.usage);
    const choice = chunk.choices.find((c) => c.index === 0);
    // Tolerate a choice without `delta` (seen from loose OpenAI-compatible hosts).
    const delta = choice?.delta as (NonNullable<typeof choice>['delta'] | undefined);
    if (delta?.content) out.push(...this.text(delta.content));
    if (delta?.refusal) out.push(...this.refusal(delta.refusal));
    for (const call of delta?.tool_calls ?? []) out.push(...this.toolCall(call.index, call.id, call.function?.name, call.function?.arguments));
    if (choice?.finish_reason) this.finish = choice.finish_reason;
    return out;
  }

  /**
   * The upstream ended cleanly: close open items, then `response.completed` or `response.incomplete`, its
   * usage carrying `cost` (USD) when `costOf` knows it.
   */
  end(costOf: (usage: TokenUsage) => number | undefined = () => undefined): ResponsesStreamEvent[] {
    const out = this.closeAll();
    const status = finalStatus(this.finish);
    const response: ResponseObject = { ...this.snapshot(), ...status, usage: this.usage ? toResponsesUsage(this.usage, costOf(this.usage)) : null };
    out.push(this.event({ type: status.status === 'completed' ? 'response.completed' : 'response.incomplete', response }));
    return out;
  }

  private text(delta: string): ResponsesStreamEvent[] {
    const out = this.openMessage();
    const m = this.message!;
    m.text += delta;
    out.push(this.event({ type: 'response.output_text.delta', item_id: m.item.id, output_index: m.index, content_index: 0, delta, logprobs: [] }));
    return out;
  }

  private refusal(delta: string): ResponsesStreamEvent[] {
    const out = this.openMessage('refusal');
    const m = this.message!;
    m.refusal += delta;
    out.push(this.event({ type: 'response.refusal.delta', item_id: m.item.id, output_index: m.index, content_index: 0, delta }));
    return out;
  }

  private openMessage(kind: 'text' | 'refusal' = 'text'): ResponsesStreamEvent[] {
    if (this.message) return [];
    // Text after a tool call opens a new message item after it, as OpenAI orders output.
    const out = this.closeCalls();
    const index = this.output.length;
    const item: OutputMessage = { type: 'message', id: this.ids('msg'), role: 'assistant', status: 'in_progress', content: [] };
    this.message = { kind: 'message', index, item, text: '', refusal: '' };
    const part = kind === 'text' ? { type: 'output_text' as const, text: '', annotations: [] as [], logprobs: [] as [] } : { type: 'refusal' as const, refusal: '' };
    out.push(this.event({ type: 'response.output_item.added', output_index: index, item: { ...item, content: [] } }));
    out.push(this.event({ type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part }));
    return out;
  }

  private toolCall(chatIndex: number, id: string | undefined, name: string | undefined, args: string | undefined): ResponsesStreamEvent[] {
    const out: ResponsesStreamEvent[] = [];
    let call = this.calls.get(chatIndex);
    if (!call) {
      out.push(...this.closeMessage());
      const index = this.output.length + this.calls.size;
      const item = functionCallItem(this.ids('fc'), id ?? '', name ?? '', '', 'in_progress');
      call = { kind: 'call', index, item };
      this.calls.set(chatIndex, call);
      out.push(this.event({ type: 'response.output_item.added', output_index: index, item: { ...item } }));
    } else if (name && !call.item.name) {
      call.item.name = name;
    }
    if (args) {
      call.item.arguments += args;
      out.push(this.event({ type: 'response.function_call_arguments.delta', item_id: call.item.id, output_index: call.index, delta: args }));
    }
    return out;
  }

  private closeMessage(): ResponsesStreamEvent[] {
    const m = this.message;
    if (!m) return [];
    this.message = undefined;
    const done = messageItem(m.item.id, m.text, m.refusal || undefined, 'completed');
    const part = done.content[0];
    const out: ResponsesStreamEvent[] = [];
    if (part.type === 'output_text') {
      out.push(this.event({ type: 'response.output_text.done', item_id: done.id, output_index: m.index, content_index: 0, text: part.text, logprobs: [] }));
    } else {
      out.push(this.event({ type: 'response.refusal.done', item_id: done.id, output_index: m.index, content_index: 0, refusal: part.refusal }));
    }
    out.push(this.event({ type: 'response.content_part.done', item_id: done.id, output_index: m.index, content_index: 0, part }));
    out.push(this.event({ type: 'response.output_item.done', output_index: m.index, item: done }));
    this.output[m.index] = done;
    return out;
  }

  private closeCalls(): ResponsesStreamEvent[] {
    const out: ResponsesStreamEvent[] = [];
    for (const call of [...this.calls.values()].sort((a, b) => a.index - b.index)) {
      const done = { ...call.item, status: 'completed' as const };
      out.push(this.event({ type: 'response.function_call_arguments.done', item_id: done.id, output_index: call.index, name: done.name, arguments: done.arguments }));
      out.push(this.event({ type: 'response.output_item.done', output_index: call.index, item: done }));
      this.output[call.index] = done;
    }
    this.calls.clear();
    return out;
  }

  /** A message and function calls are never open together (opening one closes the other). */
  private closeAll(): ResponsesStreamEvent[] {
    return [...this.closeMessage(), ...this.closeCalls()];
  }

  private snapshot(): ResponseObject {
    return { ...this.shell, output: [...this.output] };
  }

  private event(body: EventBody): ResponsesStreamEvent {
    return { ...body, sequence_number: this.sequence.next() } as ResponsesStreamEvent;
  }
}
