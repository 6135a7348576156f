/**
 * CPU per DynamoDB HTTP exchange of this process: node:http with a keep-alive agent (what the lean
 * transport used before, and still uses over someone else's agents) against the transport's own
 * HTTP/1.1 client (lambda/store/http1-pool.ts), on the same signed PutItem requests to the bench's store
 * process (dynalite, its own process: its work is not counted):
 *
 *   npx tsx bench/store-http.ts [calls=600] [gapMs=0]
 *
 * Alternates the two clients by round. gapMs > 0 sleeps between calls, as the gateway's store calls are
 * spread between requests (caches go cold; each call then costs several times its hot-loop cost).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_TABLES } from '../lambda/local/embedded-dynamo';
import { Http1Pool } from '../lambda/core/http1-pool';
import { SigV4Signer } from '../lambda/store/lean-sigv4';
import { startWorker } from './processes/ipc';

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 600);
  const gapMs = Number(process.argv[3] ?? 0);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-store-http-'));
  const store = await startWorker(join(__dirname, 'processes', 'store-process.ts'));
  const agent = new Agent({ keepAlive: true, maxSockets: 50 });
  try {
    const url = new URL(await store.call<string>('start', dir));
    const credentials = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    const pool = new Http1Pool({ https: false, hostname: url.hostname, port: Number(url.port), maxSockets: 50, connectTimeoutMs: 1000, inactivityTimeoutMs: 300_000 });
    const signer = new SigV4Signer('local', 'dynamodb');
    let n = 0;
    const signed = () => {
      const body = JSON.stringify({ TableName: LOCAL_TABLES.ledger, Item: { pk: { S: `bench#${n++}` }, sk: { S: 'rec' }, kind: { S: 'request' }, keyId: { S: 'k1' }, costMicros: { N: '789' } }, ConditionExpression: 'attribute_not_exists(pk)' });
      const headers = signer.sign({ host: url.host, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-length': String(Buffer.byteLength(body)) }, body, credentials, now: new Date() });
      return { body, headers };
    };
    const viaNodeHttp = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const { body, headers } = signed();
        const req = request({ hostname: url.hostname, port: url.port, method: 'POST', path: '/', headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        req.on('error', reject);
        req.end(body);
      });
    const viaPool = async (): Promise<string> => {
      const { body, headers } = signed();
      return (await pool.request('POST', '/', headers, body)).body.toString('utf8');
    };
    const clients: Array<[string, () => Promise<string>]> = [
      ['node:http (keep-alive agent)', viaNodeHttp],
      ['Http1Pool', viaPool],
    ];
    for (const [, call] of clients) for (let i = 0; i < 100; i++) await call();
    const perCall = new Map<string, number[]>();
    for (let round = 0; round < 3; round++) {
      for (const [name, call] of clients) {
        let cpu = 0;
        for (let i = 0; i < calls; i++) {
          const before = process.cpuUsage();
          const out = await call();
          const used = process.cpuUsage(before);
          cpu += used.user + used.system;
          if (out.includes('Exception')) throw new Error(out);
          if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        }
        perCall.set(name, [...(perCall.get(name) ?? []), cpu / calls]);
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    for (const [name, v] of perCall) console.log(`${name.padEnd(30)} CPU per call: median ${median(v).toFixed(0)} µs (rounds: ${v.map((x) => x.toFixed(0)).join(', ')})`);
    const [a, b] = [...perCall.values()].map(median);
    console.log(`Http1Pool / node:http: ${(b / a).toFixed(2)} (gap ${gapMs} ms, ${calls} calls per round)`);
    pool.destroy();
  } finally {
    agent.destroy();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
