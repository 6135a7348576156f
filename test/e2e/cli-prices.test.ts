/** `tollgate prices`, in-process: unit prices, their source, and the worked cost the gateway would bill. */
import { join } from 'node:path';
import { main } from '../../lambda/cli/main';
import { CATALOG_VERSION } from '../../lambda/core/price-catalog';

const SHIPPED = join(__dirname, '../../tollgate.config.json');

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) };
  const code = await main(args, { io, env: { TOLLGATE_CONFIG: SHIPPED } });
  return { code, ...out };
}

describe('Command: prices', () => {
  it('prints catalog prices with the catalog version and a worked cost in exact micro-dollars', async () => {
    const r = await run(['prices', 'openai/gpt-4o-mini', '--input', '2000', '--cache-read', '1500', '--output', '500']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`source:            catalog ${CATALOG_VERSION} (entry openai/gpt-4o-mini)`);
    expect(r.stdout).toContain('input $0.15, output $0.6, cache read $0.075');
    expect(r.stdout).toContain('output cap without max_tokens: 16384 tokens');
    // 500 × 0.15 + 1,500 × 0.075 + 500 × 0.60 = 487.5 → 488
    expect(r.stdout).toContain('= 488 micro-USD = $0.000488');
  });

  it('says when config.pricing is the source', async () => {
    const r = await run(['prices', 'deepseek/deepseek-chat', '--input', '1000', '--output', '10']);
    expect(r.stdout).toContain('source:            config.pricing');
    expect(r.stdout).toContain('= 285 micro-USD');
  });

  it('prints long-context tiers and applies them to the worked cost', async () => {
    const r = await run(['prices', 'anthropic/claude-sonnet-4-5-20250929', '--input', '250000', '--output', '1000', '--json']);
    const body = JSON.parse(r.stdout) as { source: string; costMicros: number; prices: { tiers: unknown[] } };
    expect(body.source).toBe('catalog');
    expect(body.prices.tiers).toEqual([{ aboveInputTokens: 200_000, input: 6, output: 22.5, cacheRead: 0.6, cacheWrite: 7.5 }]);
    expect(body.costMicros).toBe(250_000 * 6 + 1_000 * 22.5);
  });

  it('exits 1 for an unpriced model, saying it is refused, and 2 for a malformed name', async () => {
    const unpriced = await run(['prices', 'openai/acme-unlisted-7b']);
    expect(unpriced.code).toBe(1);
    expect(unpriced.stderr).toContain('model_not_priced');
    expect((await run(['prices', 'gpt-4o-mini'])).code).toBe(2);
    expect((await run(['prices', 'openai/gpt-4o-mini', '--input', 'many'])).code).toBe(2);
  });
});
