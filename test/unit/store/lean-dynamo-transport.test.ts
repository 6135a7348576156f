/**
 * The lean DynamoDB client's transport on its own: SigV4 byte-identical to the SDK's signer, and retries
 * against a real loopback HTTP server that fails the way DynamoDB and networks do (500, throttling, a reset
 * socket), with the SDK's error shape and attempt counts. The embedded store's guard accepts its requests.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../support/smithy-sha256';
import { Agent as HttpAgent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDynamoClient, openLocalStore } from '../../../lambda/local/embedded-dynamo';
import { AmbiguousWriteError, documentClient, isConditionalCheckFailed } from '../../../lambda/store/dynamo';
import { registerLeanSockets } from '../../../lambda/store/lean-dynamo-http';
import { LeanDynamoClient } from '../../../lambda/store/lean-client';
import { dynamoSockets } from '../../../lambda/store/dynamo';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SigV4Signer } from '../../../lambda/store/lean-sigv4';
import { DynamoRateLimiter } from '../../../lambda/store/rate-limiter';

// Fake credentials, built at run time (no key-shaped literal in the repository).
const ACCESS_KEY_ID = ['AKID', 'LEANTEST', '0001'].join('');
const SECRET = ['lean', 'test', 'secret', 'value'].join('/');


describe('Class: SigV4Signer', () => {
  it.each([
    ['static credentials', undefined, '{"TableName":"t","Key":{"pk":{"S":"a"}}}'],
    ['session credentials', ['session', 'token', 'value'].join('+'), '{"TableName":"t","Item":{"s":{"S":"päivää 🙂  two  spaces"}}}'],
  ])('signs exactly like @smithy/signature-v4 (%s)', async (_name, sessionToken, body) => {
    const credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, sessionToken };
    for (const now of [new Date('2026-12-01T19:21:13.456Z'), new Date('2026-12-02T00:00:01.000Z'), new Date('2026-12-01T23:59:59.999Z')]) {
      const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-length': String(Buffer.byteLength(body)) };
      if (sessionToken) headers['x-amz-meta-spaced'] = '  a   b\tc '; // the canonical form trims and folds whitespace
      const ours = new SigV4Signer('eu-west-1', 'dynamodb').sign({ host: 'dynamodb.eu-west-1.amazonaws.com', headers, body, credentials, now });
      const sdk = await new SignatureV4({ credentials, region: 'eu-west-1', service: 'dynamodb', sha256: Sha256 }).sign(
        { method: 'POST', protocol: 'https:', hostname: 'dynamodb.eu-west-1.amazonaws.com', path: '/', query: {}, headers: { ...headers, host: 'dynamodb.eu-west-1.amazonaws.com' }, body },
        { signingDate: now },
      );
      expect(ours.authorization).toBe(sdk.headers.authorization);
      expect(ours['x-amz-date']).toBe(sdk.headers['x-amz-date']);
      expect(ours['x-amz-content-sha256']).toBe(sdk.headers['x-amz-content-sha256']);
      expect(ours['x-amz-security-token']).toBe(sdk.headers['x-amz-security-token']);
    }
  });

  it('re-derives the signing key when the day or the secret changes', async () => {
    const signer = new SigV4Signer('us-east-1', 'dynamodb');
    const sign = (secretAccessKey: string, now: Date) => signer.sign({ host: 'h', headers: {}, body: '{}', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey }, now }).authorization;
    const day1 = new Date('2026-12-01T10:00:00Z');
    const fresh = (secretAccessKey: string, now: Date) => new SigV4Signer('us-east-1', 'dynamodb').sign({ host: 'h', headers: {}, body: '{}', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey }, now }).authorization;
    expect(sign(SECRET, day1)).toBe(fresh(SECRET, day1));
    expect(sign(`${SECRET}2`, day1)).toBe(fresh(`${SECRET}2`, day1));
    expect(sign(SECRET, new Date('2026-12-02T10:00:00Z'))).toBe(fresh(SECRET, new Date('2026-12-02T10:00:00Z')));
  });
});

type Behaviour = 'ok' | 'item' | 'reset' | 'cut' | { status: number; type: string; message?: string; date?: string };

/** A DynamoDB-speaking loopback server that plays a script of behaviours, one per request (the last repeats). */
async function scriptedServer(script: Behaviour[], credentials: DynamoDBClientConfig['credentials'] = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }) {
  const seen: Array<{ target: string; authorization: string; body: string; amzDate: string }> = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ target: String(req.headers['x-amz-target']), authorization: String(req.headers.authorization), body, amzDate: String(req.headers['x-amz-date']) });
      const b = script[Math.min(seen.length - 1, script.length - 1)];
      if (b === 'reset') return req.socket.destroy();
      if (b === 'cut') {
        // Headers and half a body, then the socket dies.
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': '100' });
        res.write('{"Item":');
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      const payload = b === 'ok' ? {} : b === 'item' ? { Item: { pk: { S: 'a' }, n: { N: '1' } } } : { __type: `com.amazonaws.dynamodb.v20120810#${b.type}`, message: b.message ?? b.type };
      const status = typeof b === 'object' ? b.status : 200;
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `req-${seen.length}`, ...(typeof b === 'object' && b.date ? { date: b.date } : {}) });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials,
    maxAttempts: 3,
  });
  return {
    seen,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    doc: documentClient(client),
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Failure = Error & { $metadata?: { httpStatusCode?: number; attempts?: number; requestId?: string }; $fault?: string; code?: string };

describe('Lean transport: retries and errors', () => {
  const get = new GetCommand({ TableName: 't', Key: { pk: 'a' } });

  it.each([
    ['a 500', { status: 500, type: 'InternalServerError' }],
    ['throttling', { status: 400, type: 'ProvisionedThroughputExceededException' }],
    ['ThrottlingException', { status: 400, type: 'ThrottlingException' }],
    ['a 503 without a body type', { status: 503, type: 'ServiceUnavailable' }],
    ['a reset socket', 'reset' as const],
    ['a response cut mid-body', 'cut' as const],
  ])('retries %s and then succeeds', async (_name, failure) => {
    const s = await scriptedServer([failure, 'item']);
    try {
      const out = await s.doc.send(get);
      expect(out.Item).toEqual({ pk: 'a', n: 1 });
      expect(out.$metadata).toMatchObject({ httpStatusCode: 200, attempts: 2, requestId: 'req-2' });
      expect(s.seen).toHaveLength(2);
      // Each attempt is signed on its own, with the client's credentials.
      for (const r of s.seen) expect(r.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/\\d{8}/us-east-1/dynamodb/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$`));
    } finally {
      await s.close();
    }
  });

  it('gives up after the client’s maxAttempts with the last error, as the SDK does', async () => {
    const s = await scriptedServer([{ status: 500, type: 'InternalServerError', message: 'boom' }]);
    try {
      const err = (await s.doc.send(get).catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: 'InternalServerError', message: 'boom', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3, requestId: 'req-3' } });
      expect(s.seen).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it.each([
    ['ConditionalCheckFailedException', 400],
    ['ValidationException', 400],
    ['ResourceNotFoundException', 400],
    ['AccessDeniedException', 400],
  ])('never retries %s (a 4xx that is not throttling)', async (type, status) => {
    const s = await scriptedServer([{ status, type }, 'item']);
    try {
      const err = (await s.doc.send(new PutCommand({ TableName: 't', Item: { pk: 'a' }, ConditionExpression: 'attribute_not_exists(pk)' })).catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: type, $fault: 'client', $metadata: { httpStatusCode: status, attempts: 1 } });
      expect(isConditionalCheckFailed(err)).toBe(type === 'ConditionalCheckFailedException');
      expect(s.seen).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('a socket that keeps resetting surfaces as the SDK’s TimeoutError, which the store treats as an ambiguous write', async () => {
    const s = await scriptedServer(['reset']);
    try {
      const err = (await s.doc.send(get).catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: 'TimeoutError', code: 'ECONNRESET', $metadata: { attempts: 3 } });
      expect(s.seen).toHaveLength(3);
      const limiter = new DynamoRateLimiter(s.doc, 't');
      const refused = await limiter.acquire('key', 'k1', { rpm: 10 }, 0, Date.UTC(2026, 11, 1), 'adm-1').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AmbiguousWriteError);
      expect((refused as AmbiguousWriteError<unknown>).cause).toMatchObject({ name: 'TimeoutError' });
    } finally {
      await s.close();
    }
  });

  it('sends the operation, a JSON body with binary as base64 and undefined removed, and a TransactWrite token', async () => {
    const s = await scriptedServer(['ok']);
    try {
      await s.doc.send(new UpdateCommand({ TableName: 't', Key: { pk: 'a' }, UpdateExpression: 'SET b = :b', ExpressionAttributeValues: { ':b': new Uint8Array([1, 2, 3]) }, ConditionExpression: undefined }));
      expect(s.seen[0].target).toBe('DynamoDB_20120810.UpdateItem');
      expect(JSON.parse(s.seen[0].body)).toEqual({ TableName: 't', Key: { pk: { S: 'a' } }, UpdateExpression: 'SET b = :b', ExpressionAttributeValues: { ':b': { B: 'AQID' } } });
      await s.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', gone: undefined } } }] }));
      expect(s.seen[1].target).toBe('DynamoDB_20120810.TransactWriteItems');
      expect(JSON.parse(s.seen[1].body)).toEqual({ TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: 'a' } } } }], ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    } finally {
      await s.close();
    }
  });
});

/** An agent whose sockets never finish connecting (a SYN into the void), without touching any network. */
class StuckAgent extends HttpAgent {
  override createConnection(): Socket {
    const socket = new Socket();
    Object.defineProperty(socket, 'connecting', { value: true });
    return socket;
  }
}

describe('Lean client from settings (no SDK client made): retries and errors', () => {
  /** The scripted server behind a LeanDynamoClient, as the gateway builds it from Lambda's environment. */
  async function leanServer(script: Behaviour[]) {
    const s = await scriptedServer(script);
    const client = new LeanDynamoClient({ region: 'us-east-1', endpoint: s.endpoint, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }, sockets: dynamoSockets() });
    return {
      ...s,
      client,
      doc: documentClient(client),
      close: async () => {
        client.destroy();
        await s.close();
      },
    };
  }

  it('answers a failed condition with the SDK’s exception, without retrying or making the SDK client', async () => {
    const s = await leanServer([{ status: 400, type: 'ConditionalCheckFailedException' }]);
    try {
      const err = await s.doc.send(new PutCommand({ TableName: 't', Item: { pk: 'a' }, ConditionExpression: 'attribute_not_exists(pk)' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConditionalCheckFailedException);
      expect(err).toMatchObject({ name: 'ConditionalCheckFailedException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
      expect(s.seen).toHaveLength(1);
      expect(s.client.sdkIfMade()).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('retries throttling with the SDK client’s own strategy, which it makes at that first retryable error', async () => {
    const s = await leanServer([{ status: 400, type: 'ThrottlingException' }, 'item']);
    try {
      expect(s.client.sdkIfMade()).toBeUndefined();
      const out = await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
      expect(out.Item).toEqual({ pk: 'a', n: 1 });
      expect(out.$metadata).toMatchObject({ attempts: 2 });
      expect(s.client.sdkIfMade()).toBeDefined();
    } finally {
      await s.close();
    }
  });

  it('a socket that keeps resetting: retried as the SDK client would, then an ambiguous write to the store', async () => {
    const s = await leanServer(['reset']);
    const reference = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET } });
    try {
      const maxAttempts = await reference.config.maxAttempts();
      const limiter = new DynamoRateLimiter(s.doc, 't');
      const refused = await limiter.acquire('key', 'k1', { rpm: 10 }, 0, Date.UTC(2026, 11, 1), 'adm-1').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AmbiguousWriteError);
      expect((refused as AmbiguousWriteError<unknown>).cause).toMatchObject({ name: 'TimeoutError', code: 'ECONNRESET', $metadata: { attempts: maxAttempts } });
      expect(s.seen).toHaveLength(maxAttempts);
    } finally {
      reference.destroy();
      await s.close();
    }
  }, 20_000);

  it('a retry strategy that failed to load (its SDK chunk) fails that call only: the next retryable error loads it again', async () => {
    const s = await leanServer([{ status: 400, type: 'ThrottlingException' }, { status: 400, type: 'ThrottlingException' }, 'item']);
    const connection = s.client.connection as { retryStrategy: () => Promise<unknown> };
    const load = connection.retryStrategy;
    let failures = 1;
    connection.retryStrategy = async () => {
      if (failures-- > 0) throw new Error('Cannot find module ./lazy/client-dynamodb.js');
      return load();
    };
    try {
      const first = (await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } })).catch((e: unknown) => e)) as Failure;
      expect(first).toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 1 } });
      const out = await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
      expect(out.Item).toEqual({ pk: 'a', n: 1 });
      expect(out.$metadata).toMatchObject({ attempts: 2 });
      expect(s.seen).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it('gives up after as many attempts as the SDK client would make', async () => {
    const s = await leanServer([{ status: 500, type: 'InternalServerError', message: 'boom' }]);
    const reference = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET } });
    try {
      const maxAttempts = await reference.config.maxAttempts();
      const err = (await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } })).catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: 'InternalServerError', $fault: 'server', $metadata: { attempts: maxAttempts } });
      expect(s.seen).toHaveLength(maxAttempts);
    } finally {
      reference.destroy();
      await s.close();
    }
  }, 20_000);
});

describe('Lean transport: connect timeout', () => {
  it('gives up on a connect after the registered connection timeout, retries, and surfaces a TimeoutError (ambiguous to the store)', async () => {
    const handler = new NodeHttpHandler();
    registerLeanSockets(handler, { httpAgent: new StuckAgent(), httpsAgent: new HttpsAgent(), connectionTimeoutMs: 50 });
    const client = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }, maxAttempts: 3, requestHandler: handler });
    try {
      const started = Date.now();
      const err = (await documentClient(client)
        .send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }))
        .catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('within the configured timeout of 50 ms'), $metadata: { attempts: 3 } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      const refused = await new DynamoRateLimiter(documentClient(client), 't').acquire('key', 'k1', { rpm: 10 }, 0, Date.UTC(2026, 11, 1), 'adm-1').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AmbiguousWriteError);
    } finally {
      client.destroy();
    }
  });
});

describe('Lean transport: clock and credentials', () => {
  it('corrects a skewed clock from the error response’s Date header and retries, as the SDK does', async () => {
    const serverNow = new Date(Date.now() + 20 * 60_000);
    const s = await scriptedServer([{ status: 400, type: 'InvalidSignatureException', message: 'Signature expired', date: serverNow.toUTCString() }, 'item']);
    try {
      const out = await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
      expect(out.$metadata.attempts).toBe(2);
      const sentAt = (d: string) => Date.parse(d.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      expect(Math.abs(sentAt(s.seen[1].amzDate) - serverNow.getTime())).toBeLessThan(60_000);
      expect(sentAt(s.seen[0].amzDate)).toBeLessThan(serverNow.getTime() - 15 * 60_000);
    } finally {
      await s.close();
    }
  });

  it.each([
    ['far from expiry: asked once', 60 * 60_000, 1],
    ['expiring within the refresh margin: asked again for each request', 60_000, 3],
  ])('takes credentials from the client’s provider (%s)', async (_name, validForMs, asked) => {
    let calls = 0;
    const provider = async () => {
      calls++;
      return { accessKeyId: `${ACCESS_KEY_ID}${calls}`, secretAccessKey: SECRET, expiration: new Date(Date.now() + validForMs) };
    };
    const s = await scriptedServer(['item'], provider);
    try {
      for (let i = 0; i < 3; i++) await s.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));
      expect(new Set(s.seen.map((r) => /Credential=([^/]+)\//.exec(r.authorization)?.[1])).size).toBe(asked);
      // (The SDK's memoizing wrapper may ask its provider once more than we ask it.)
      if (asked === 1) expect(calls).toBe(1);
      else expect(calls).toBeGreaterThanOrEqual(asked);
    } finally {
      await s.close();
    }
  });
});

describe('Lean transport and the embedded store guard', () => {
  it('is let through with the store’s per-start key, refused with another', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-lean-guard-'));
    const store = await openLocalStore({ dataDir: dir });
    const other = localDynamoClient(store.endpoint, { accessKeyId: ['TG', '00'.repeat(16)].join(''), secretAccessKey: 'x' });
    try {
      const doc = documentClient(store.client);
      await doc.send(new PutCommand({ TableName: store.tables.ledger, Item: { pk: 'guard', sk: '1', v: 1 } }));
      expect((await doc.send(new GetCommand({ TableName: store.tables.ledger, Key: { pk: 'guard', sk: '1' } }))).Item).toEqual({ pk: 'guard', sk: '1', v: 1 });
      const err = (await documentClient(other)
        .send(new GetCommand({ TableName: store.tables.ledger, Key: { pk: 'guard', sk: '1' } }))
        .catch((e: unknown) => e)) as Failure;
      expect(err).toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403, attempts: 1 } });
    } finally {
      other.destroy();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
