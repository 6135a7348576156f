/**
 * Every upstream double the bench needs (the shared loopback doubles from test/doubles), started
 * together in the upstream process (or in-process for the smoke test): one for the latency workload
 * (fixed delay before the first byte, fixed chunk count) and one long, undelayed stream per wire format.
 */
import { startAnthropicDouble } from '../../test/doubles/anthropic-double';
import { startBedrockDouble } from '../../test/doubles/bedrock-double';
import type { UpstreamDouble } from '../../test/doubles/http-double';
import { startOpenAIDouble } from '../../test/doubles/openai-double';

export interface UpstreamOptions {
  firstByteDelayMs: number;
  chunks: number;
  longChunks: number;
}

/** Base URLs (scheme, host and port) of the doubles. */
export interface UpstreamUrls {
  openai: string;
  long: Record<RelayAdapter, string>;
}

export const RELAY_ADAPTERS = ['openai-compatible', 'anthropic', 'bedrock'] as const;
export type RelayAdapter = (typeof RELAY_ADAPTERS)[number];

export interface RunningUpstreams {
  urls: UpstreamUrls;
  close(): Promise<void>;
}

export async function startUpstreams(opts: UpstreamOptions): Promise<RunningUpstreams> {
  const doubles: UpstreamDouble[] = [];
  const start = async (p: Promise<UpstreamDouble>) => {
    const d = await p;
    doubles.push(d);
    return d.url.replace(/\/+$/, '');
  };
  const long = { kind: 'ok' as const, delayMs: 0, chunkCount: opts.longChunks, chunkDelayMs: 0 };
  const urls: UpstreamUrls = {
    openai: await start(startOpenAIDouble({ default: { kind: 'ok', delayMs: opts.firstByteDelayMs, chunkCount: opts.chunks, chunkDelayMs: 0 } })),
    long: {
      'openai-compatible': await start(startOpenAIDouble({ default: long })),
      anthropic: await start(startAnthropicDouble({ default: long })),
      bedrock: await start(startBedrockDouble({ default: long })),
    },
  };
  // The doubles record every request for tests; the bench sends tens of thousands, so forget them.
  const forget = setInterval(() => doubles.forEach((d) => (d.requests.length = 0)), 1_000);
  forget.unref();
  return {
    urls,
    async close() {
      clearInterval(forget);
      for (const d of doubles) await d.close();
    },
  };
}
