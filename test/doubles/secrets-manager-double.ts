/**
 * Secrets Manager on loopback: its JSON 1.1 protocol, GetSecretValue only (the gateway reads its provider
 * keys with it). Point the SDK at it with AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SecretsManagerDouble {
  url: string;
  /** The X-Amz-Target of every call. */
  calls: string[];
  close(): Promise<void>;
}

export async function startSecretsManagerDouble(secret: Record<string, string>): Promise<SecretsManagerDouble> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(String(req.headers['x-amz-target']));
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: 'unsupported' }));
        return;
      }
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ARN: SecretId, Name: 'provider-keys', SecretString: JSON.stringify(secret), VersionId: 'v1' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}
