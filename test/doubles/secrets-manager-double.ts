/**
 * Secrets Manager on loopback: its JSON 1.1 protocol, GetSecretValue only (the gateway reads its provider
 * keys with it). Point the gateway at it with AWS_ENDPOINT_URL_SECRETS_MANAGER (the lean reader,
 * lambda/app/lean-secrets.ts, and the SDK both read it).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the next call gets instead of the secret: an error response, or a connection closed without one. */
export type SecretsFault = { status: number; body: unknown } | { kind: 'reset' } | { kind: 'binary' };

export interface SecretsManagerDouble {
  url: string;
  /** The X-Amz-Target of every call. */
  calls: string[];
  /** Every call as received: method, path, headers and body. */
  requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }>;
  /** Answers the next calls with these, in order, before the secret again. */
  failNext(...faults: SecretsFault[]): void;
  /** Replaces the secret's value. */
  setSecret(secret: Record<string, string> | string): void;
  close(): Promise<void>;
}

export async function startSecretsManagerDouble(initial: Record<string, string> | string): Promise<SecretsManagerDouble> {
  const calls: string[] = [];
  const requests: SecretsManagerDouble['requests'] = [];
  const faults: SecretsFault[] = [];
  let secret = initial;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(String(req.headers['x-amz-target']));
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: 'unsupported' }));
        return;
      }
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      const text = typeof secret === 'string' ? secret : JSON.stringify(secret);
      const fault = faults.shift();
      if (fault && 'kind' in fault && fault.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault && 'status' in fault) {
        res.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      const value = fault && 'kind' in fault && fault.kind === 'binary' ? { SecretBinary: Buffer.from(text, 'utf8').toString('base64') } : { SecretString: text };
      res.end(JSON.stringify({ ARN: SecretId, Name: 'provider-keys', ...value, VersionId: 'v1' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    requests,
    failNext: (...f) => faults.push(...f),
    setSecret: (s) => (secret = s),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
