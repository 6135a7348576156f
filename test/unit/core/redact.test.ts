import { randomBytes } from 'node:crypto';
import { redactSecrets } from '../../../lambda/core/redact';

describe('Method: redactSecrets with the provider key', () => {
  // Built at run time: no key-shaped literal in the repository.
  const key = `fake${randomBytes(16).toString('hex')}`;

  it.each([
    ['the whole key', (k: string) => `bad key ${k} given`],
    ['a 6-character prefix', (k: string) => `key ${k.slice(0, 6)}... rejected`],
    ['a masked key (start and end)', (k: string) => `key ${k.slice(0, 8)}****${k.slice(-6)} rejected`],
    ['a fragment from the middle', (k: string) => `fragment:${k.slice(10, 17)}.`],
    ['the key quoted in a JSON header dump', (k: string) => JSON.stringify({ headers: { 'X-Api-Key': k } })],
  ])('removes %s', (_name, quote) => {
    const out = redactSecrets(quote(key), [key]);
    for (let i = 0; i + 6 <= key.length; i++) expect(out).not.toContain(key.slice(i, i + 6));
    expect(out).toContain('[redacted');
  });

  it('leaves 5-character pieces and ordinary words alone', () => {
    expect(redactSecrets(`model gpt-4o said ${key.slice(0, 5)}`, [key])).toBe(`model gpt-4o said ${key.slice(0, 5)}`);
  });

  it('removes SigV4 credentials and signatures', () => {
    const header = `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=${randomBytes(32).toString('hex')}`;
    const out = redactSecrets(`denied: ${header}`);
    expect(out).not.toContain('AKID/');
    expect(out).not.toMatch(/[0-9a-f]{64}/);
  });

  it('removes long random tokens without a known prefix', () => {
    const token = `A${randomBytes(24).toString('hex')}`;
    expect(redactSecrets(`session ${token} expired`)).toBe('session [redacted-token] expired');
  });

  it('bounds the work on a huge input', () => {
    expect(redactSecrets('x'.repeat(1_000_000), [key]).length).toBeLessThanOrEqual(64 * 1024);
  });
});
