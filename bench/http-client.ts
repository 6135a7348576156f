/**
 * The one HTTP client both paths use: node:http with a keep-alive agent, no parsing beyond finding the
 * first SSE `data:` byte, so the client's own cost is identical for the direct and the gateway path.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Timing {
  status: number;
  /** Request start → first body byte (non-streaming) or first SSE `data:` byte (streaming). */
  ttftMs: number;
  totalMs: number;
  bytes: number;
}

export interface Target {
  /** Full URL of the chat completions endpoint. */
  url: URL;
  headers: Record<string, string>;
  agent: Agent;
}

export function keepAliveAgent(maxSockets = 256): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, keepAliveMsecs: 30_000 });
}

export function makeTarget(url: string, headers: Record<string, string> = {}): Target {
  return { url: new URL(url), headers, agent: keepAliveAgent() };
}

const DATA = Buffer.from('data:');

export function timedPost(target: Target, body: string, sse: boolean): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first = Number.NaN;
    let bytes = 0;
    const req = request(
      {
        host: target.url.hostname,
        port: target.url.port,
        path: target.url.pathname,
        method: 'POST',
        agent: target.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...target.headers },
      },
      (res) => {
        // Carries a partial `data:` prefix across reads so the first data byte is found wherever it lands.
        let tail: Buffer = Buffer.alloc(0);
        res.on('data', (b: Buffer) => {
          bytes += b.length;
          if (Number.isNaN(first)) {
            if (!sse) first = performance.now();
            else {
              const window: Buffer = tail.length ? Buffer.concat([tail, b]) : b;
              if (window.indexOf(DATA) >= 0) first = performance.now();
              else tail = window.subarray(Math.max(0, window.length - DATA.length));
            }
          }
        });
        res.on('end', () => {
          const end = performance.now();
          resolve({ status: res.statusCode ?? 0, ttftMs: (Number.isNaN(first) ? end : first) - started, totalMs: end - started, bytes });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `total` calls of `fn` with at most `concurrency` in flight; returns results in completion order and the wall time. */
export async function runConcurrent<T>(total: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<{ results: T[]; wallMs: number }> {
  const results: T[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results.push(await fn(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { results, wallMs: performance.now() - started };
}
