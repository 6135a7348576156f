/**
 * Child process: the floors the gateway is read against (bench/relay-floor.ts starts it; `npm run bench`
 * runs two of them as paths of their own). One relay, so the two floors differ only by the store writes:
 *
 * - the bare relay: node:http in and out, the upstream answer piped as is (`pipe`) or every SSE event
 *   parsed (eventsource-parser), JSON-parsed and re-serialised, as a metering relay must read usage and
 *   text from each chunk (`sse`; a JSON answer: parsed and re-serialised whole);
 * - the floor with the store: the `sse` relay plus the two DynamoDB writes issue 13 leaves on the request
 *   path, done the cheapest way this repo knows: a prebuilt item in DynamoDB's wire format (ids and numbers
 *   filled in), signed with lambda/store/lean-sigv4.ts and sent on lambda/core/http1-pool.ts to the
 *   bench's store. The lease index entry is sent on the next turn after the upstream request has left and
 *   the client's first byte waits until it has landed (as the gateway's does); the usage record follows
 *   the client's last byte. `writes` may keep only one of them (bench/gc-survival.ts).
 *
 * No auth, routing, limits, leases, pricing, telemetry or derivation: what the required work costs on this
 * machine. The items are the size and shape of the gateway's own (captured from the store: ~600 and
 * ~1,200 bytes). Run as a bundle under plain node (bench/processes/bundle-worker.ts), like the gateway.
 */
import { createParser } from 'eventsource-parser';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Http1Pool } from '../../lambda/core/http1-pool';
import { SigV4Signer } from '../../lambda/store/lean-sigv4';
import { serveWorker } from './ipc';

export type FloorWrites = 'none' | 'index' | 'record' | 'both';

export interface FloorStart {
  upstream: string;
  mode: 'pipe' | 'sse';
  /** Default none: the bare relay. Any write needs `store`, and the `sse` relay (the record carries its usage). */
  writes?: FloorWrites;
  store?: { dataDir: string; table: string };
}

type Usage = { prompt_tokens?: number; completion_tokens?: number };

let close: (() => Promise<void>) | undefined;

/** The two writes, or none: `index` before the first byte, `record` after the last. */
function storeWrites(writes: FloorWrites, store: FloorStart['store']): { index?: (id: string, at: number) => Promise<void>; record?: (id: string, at: number, usage?: Usage) => Promise<void>; close(): void } {
  if (writes === 'none') return { close: () => undefined };
  if (!store) throw new Error('a floor with store writes needs the store');
  const { endpoint, accessKeyId, secretAccessKey } = JSON.parse(readFileSync(join(store.dataDir, 'endpoint.json'), 'utf8')) as {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  const url = new URL(endpoint);
  const pool = new Http1Pool({ https: false, hostname: url.hostname, port: Number(url.port), maxSockets: 50, connectTimeoutMs: 1000, inactivityTimeoutMs: 10_000 });
  const signer = new SigV4Signer('local', 'dynamodb');
  const credentials = { accessKeyId, secretAccessKey };
  const putItem = async (item: Record<string, unknown>, condition?: string): Promise<void> => {
    const body = JSON.stringify({ TableName: store.table, Item: item, ...(condition ? { ConditionExpression: condition } : {}), ReturnConsumedCapacity: 'TOTAL' });
    const headers = signer.sign({
      host: url.host,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-length': String(Buffer.byteLength(body)) },
      body,
      credentials,
      now: new Date(),
    });
    const res = await pool.request('POST', '/', headers, body);
    if (res.status !== 200) throw new Error(`PutItem ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  };
  const S = (s: string) => ({ S: s });
  const N = (n: number) => ({ N: String(n) });
  const B = (b: boolean) => ({ BOOL: b });
  const requestPart = (id: string, at: number) => ({
    requestId: S(id),
    admittedAt: N(at),
    day: S(new Date(at).toISOString().slice(0, 10)),
    keyId: S('key_98f59350efec522f'),
    keyName: S('bench'),
    team: S('bench'),
    model: S('bench'),
    stream: B(true),
    reservedMicros: N(146),
  });
  const indexEntry = (id: string, at: number) => ({
    pk: S(`lease#${at % 16}`),
    sk: S(`${String(at + 420_000).padStart(15, '0')}#${id}`),
    leaseId: S(id),
    expiresAt: N(at + 420_000),
    counters: { L: [] },
    request: { M: requestPart(id, at) },
    recordTtlDays: N(90),
    ttl: N(Math.floor(at / 1000) + 605_000),
  });
  const record = (id: string, at: number, usage: Usage | undefined) => ({
    ...requestPart(id, at),
    endedAt: N(Date.now()),
    provider: S('bench'),
    upstreamModel: S('bench-model'),
    inputTokens: N(usage?.prompt_tokens ?? 0),
    outputTokens: N(usage?.completion_tokens ?? 0),
    cacheReadTokens: N(0),
    cacheWriteTokens: N(0),
    reasoningTokens: N(0),
    costMicros: N(22),
    estimated: B(false),
    unpriced: B(false),
    usageClamped: B(false),
    status: S('success'),
    httpStatus: N(200),
    ttftMs: N(24),
    totalMs: N(Date.now() - at),
    attempts: N(1),
    fallback: B(false),
    outputCapTokens: N(64),
    pk: S(`req#${new Date(at).toISOString().slice(0, 10)}`),
    sk: S(`${new Date(at).toISOString()}#${id}`),
    kind: S('request'),
    v: N(1),
    ttl: N(Math.floor(at / 1000) + 90 * 86_400),
  });
  return {
    index: writes === 'record' ? undefined : (id, at) => putItem(indexEntry(id, at)),
    record: writes === 'index' ? undefined : (id, at, usage) => putItem(record(id, at, usage), 'attribute_not_exists(pk)'),
    close: () => pool.destroy(),
  };
}

function start(input: FloorStart): Promise<string> {
  const writes = input.writes ?? 'none';
  if (writes !== 'none' && input.mode !== 'sse') throw new Error('store writes need the sse relay');
  const store = storeWrites(writes, input.store);
  const upstream = new URL(input.upstream);
  const agent = new Agent({ keepAlive: true });

  /** The upstream's answer to the client: piped, or parsed and re-serialised; `done` gets the usage it carried. */
  const relay = (u: IncomingMessage, res: import('node:http').ServerResponse, done: (usage?: Usage) => void) => {
    res.writeHead(u.statusCode ?? 502, { 'content-type': u.headers['content-type'] ?? 'application/json' });
    if (input.mode === 'pipe') return void u.pipe(res);
    if (!String(u.headers['content-type']).startsWith('text/event-stream')) {
      const whole: Buffer[] = [];
      u.on('data', (c: Buffer) => whole.push(c));
      u.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(whole).toString('utf8')) as { usage?: Usage };
        res.end(JSON.stringify(parsed));
        done(parsed.usage);
      });
      return;
    }
    let usage: Usage | undefined;
    const out: string[] = [];
    const parser = createParser({
      onEvent: (e) => {
        if (e.data === '[DONE]') return void out.push('data: [DONE]\n\n');
        const chunk = JSON.parse(e.data) as { usage?: Usage };
        if (chunk.usage) usage = chunk.usage;
        out.push(`data: ${JSON.stringify(chunk)}\n\n`);
      },
    });
    u.setEncoding('utf8');
    u.on('data', (t: string) => {
      parser.feed(t);
      if (out.length) {
        res.write(out.join(''));
        out.length = 0;
      }
    });
    u.on('end', () => {
      res.end();
      done(usage);
    });
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const id = `req_${randomUUID().replace(/-/g, '')}`;
      const at = Date.now();
      // Next turn, after the upstream request below has left (as the gateway sends its index entry).
      const indexed = store.index && new Promise<void>((resolve) => setImmediate(resolve)).then(() => store.index!(id, at));
      indexed?.catch(() => undefined);
      const fail = () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      };
      const settle = (usage?: Usage) => void store.record?.(id, at, usage).catch((err: unknown) => console.error(err));
      const up = request(upstream, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (u) => {
        if (!indexed) return relay(u, res, settle);
        void indexed.then(
          () => relay(u, res, settle),
          () => fail(),
        );
      });
      up.on('error', fail);
      up.end(body);
    });
  });
  close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    store.close();
  };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`)));
}

serveWorker({ start: (payload) => start(payload as FloorStart) }, async () => close?.());
