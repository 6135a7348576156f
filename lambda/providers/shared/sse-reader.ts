/**
 * Server-sent events from an upstream response, as an async iterable of the events each network read
 * completed (openai-node's layering: bytes → text → SSE events; the provider layer turns events into
 * typed chunks). Batches, not single events: one async step per read rather than per event. Leaving the
 * loop early aborts the upstream request, so an abandoned stream does not keep generating (and billing)
 * tokens.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { abortError, connectionError } from './upstream-errors';
import type { OpenResponse } from './http-transport';

/** Upstream events buffered beyond this size (one event never gets this big) mean a broken stream. */
const MAX_BUFFER_CHARS = 8 * 1024 * 1024;

export async function* readSse(provider: string, open: OpenResponse, signal: AbortSignal): AsyncGenerator<EventSourceMessage[]> {
  const reader = open.body[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  let pending: EventSourceMessage[] = [];
  let parseError: Error | undefined;
  const parser = createParser({
    onEvent: (event) => pending.push(event),
    onError: (err) => {
      parseError ??= err;
    },
    maxBufferSize: MAX_BUFFER_CHARS,
  });
  let finished = false;
  try {
    for (;;) {
      let result: IteratorResult<Uint8Array>;
      try {
        result = await reader.next();
      } catch (err) {
        if (signal.aborted) throw abortError(provider, signal);
        throw connectionError(provider, err, 'closed the connection mid-stream');
      }
      if (result.done) {
        parser.feed(decoder.decode() + '\n\n');
      } else {
        parser.feed(decoder.decode(result.value, { stream: true }));
      }
      if (parseError?.name === 'ParseError' && (parseError as { type?: string }).type === 'max-buffer-size-exceeded') {
        throw connectionError(provider, parseError, 'sent an oversized stream event');
      }
      if (pending.length > 0) {
        const events = pending;
        pending = [];
        yield events;
      }
      if (result.done) {
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) {
      open.abort();
      reader.return?.()?.catch(() => undefined);
    }
  }
}
