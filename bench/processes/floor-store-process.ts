/**
 * Child process: the bare relay of bench/relay-floor.ts (`sse` mode: node:http in and out, each SSE event
 * parsed and re-serialised) plus the two DynamoDB writes issue 13 leaves on the request path, done the
 * cheapest way this repo knows: a prebuilt item in DynamoDB's wire format (ids and numbers filled in),
 * signed with lambda/store/lean-sigv4.ts and sent on lambda/core/http1-pool.ts to the bench's store.
 *
 * - the lease index entry, sent on the next turn after the upstream request has left; the client's first
 *   byte waits until it has landed (as the gateway's does);
 * - the usage record, after the client's last byte.
 *
 * No auth, routing, limits, leases, pricing, telemetry or derivation: what the required work costs on this
 * machine, read against the gateway's CPU and latency in the same run. The items are the size and shape of
 * the gateway's own (captured from the store: ~600 and ~1,200 bytes).
 *
 * TOLLGATE_FLOOR_WRITES=index|record (default both): only one of the two writes (bench/gc-survival.ts).
 */
import { createParser } from 'eventsource-parser';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Http1Pool } from '../../lambda/core/http1-pool';
import { SigV4Signer } from '../../lambda/store/lean-sigv4';
import { serveWorker } from './ipc';

interface StartInput {
  upstream: string;
  storeDataDir: string;
  table: string;
}

let close: (() => Promise<void>) | undefined;

function start(input: StartInput): Promise<string> {
  const { endpoint, accessKeyId, secretAccessKey } = JSON.parse(readFileSync(join(input.storeDataDir, 'endpoint.json'), 'utf8')) as {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  const store = new URL(endpoint);
  const pool = new Http1Pool({ https: false, hostname: store.hostname, port: Number(store.port), maxSockets: 50, connectTimeoutMs: 1000, inactivityTimeoutMs: 10_000 });
  const signer = new SigV4Signer('local', 'dynamodb');
  const credentials = { accessKeyId, secretAccessKey };
  const writes = process.env.TOLLGATE_FLOOR_WRITES ?? 'both';
  const putItem = async (item: Record<string, unknown>, condition?: string): Promise<void> => {
    const body = JSON.stringify({ TableName: input.table, Item: item, ...(condition ? { ConditionExpression: condition } : {}), ReturnConsumedCapacity: 'TOTAL' });
    const headers = signer.sign({
      host: store.host,
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
  const record = (id: string, at: number, usage: { prompt_tokens?: number; completion_tokens?: number } | undefined) => ({
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

  const upstream = new URL(input.upstream);
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const id = `req_${randomUUID().replace(/-/g, '')}`;
      const at = Date.now();
      // Next turn, after the upstream request below has left (as the gateway sends its index entry).
      const indexed = new Promise<void>((resolve) => setImmediate(resolve)).then(() => (writes === 'record' ? undefined : putItem(indexEntry(id, at))));
      indexed.catch(() => undefined);
      const fail = () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      };
      const up = request(upstream, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (u) => {
        void indexed.then(
          () => relay(u),
          () => fail(),
        );
      });
      const relay = (u: import('node:http').IncomingMessage) => {
        res.writeHead(u.statusCode ?? 502, { 'content-type': u.headers['content-type'] ?? 'application/json' });
        let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
        const settle = () => {
          if (writes !== 'index') void putItem(record(id, at, usage), 'attribute_not_exists(pk)').catch((err: unknown) => console.error(err));
        };
        if (!String(u.headers['content-type']).startsWith('text/event-stream')) {
          const whole: Buffer[] = [];
          u.on('data', (c: Buffer) => whole.push(c));
          u.on('end', () => {
            const parsed = JSON.parse(Buffer.concat(whole).toString('utf8')) as { usage?: typeof usage };
            usage = parsed.usage;
            res.end(JSON.stringify(parsed));
            settle();
          });
          return;
        }
        const out: string[] = [];
        const parser = createParser({
          onEvent: (e) => {
            if (e.data === '[DONE]') return void out.push('data: [DONE]\n\n');
            const chunk = JSON.parse(e.data) as { usage?: typeof usage };
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
          settle();
        });
      };
      up.on('error', fail);
      up.end(body);
    });
  });
  close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    pool.destroy();
  };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`)));
}

serveWorker(
  {
    start: (payload) => start(payload as StartInput),
    cpu: () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
  },
  async () => close?.(),
);
