import { parseConfig } from '../../../lambda/core/config';
import { chooseArm } from '../../../lambda/core/experiments';
import { requestEvidence, CACHEABLE_PREFIX_TOKENS } from '../../../lambda/core/request-evidence';

const config = parseConfig({
  providers: { openai: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' }, bedrock: { kind: 'bedrock', region: 'us-east-1' } },
  models: {
    summarize: {
      targets: [{ provider: 'openai', model: 'gpt-4o' }],
      experiment: { arms: [{ name: 'current', weight: 90 }, { name: 'candidate', weight: 10, targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }] },
    },
    sticky: {
      targets: [{ provider: 'openai', model: 'gpt-4o' }],
      experiment: { sticky: 'customer', arms: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1, targets: [{ provider: 'bedrock', model: 'amazon.nova-lite-v1:0' }] }] },
    },
    plain: { targets: [{ provider: 'openai', model: 'gpt-4o' }] },
  },
});

describe('Method: chooseArm', () => {
  it('splits 10,000 requests 90/10 within one percentage point, each arm on its own targets', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const choice = chooseArm('summarize', config.models.summarize, { requestId: `req_${i}` })!;
      counts[choice.arm] = (counts[choice.arm] ?? 0) + 1;
      expect(choice.targets[0].model).toBe(choice.arm === 'current' ? 'gpt-4o' : 'gpt-4o-mini');
    }
    expect(counts.current + counts.candidate).toBe(10_000);
    expect(Math.abs(counts.candidate - 1_000)).toBeLessThanOrEqual(100);
  });

  it('is deterministic: the same request id gets the same arm', () => {
    for (let i = 0; i < 100; i++) {
      expect(chooseArm('summarize', config.models.summarize, { requestId: `r${i}` })).toEqual(chooseArm('summarize', config.models.summarize, { requestId: `r${i}` }));
    }
  });

  it('keeps a customer on one arm when sticky, and still splits customers by weight', () => {
    const arms: Record<string, number> = {};
    for (let c = 0; c < 2_000; c++) {
      const seen = new Set(Array.from({ length: 5 }, (_, i) => chooseArm('sticky', config.models.sticky, { requestId: `req_${c}_${i}`, customer: `cust_${c}` })!.arm));
      expect(seen.size).toBe(1);
      const arm = [...seen][0];
      arms[arm] = (arms[arm] ?? 0) + 1;
    }
    expect(Math.abs(arms.a - 1_000)).toBeLessThanOrEqual(100);
  });

  it('ignores the customer when the experiment is not sticky, and returns undefined without an experiment', () => {
    const arms = new Set(Array.from({ length: 50 }, (_, i) => chooseArm('summarize', config.models.summarize, { requestId: `x${i}`, customer: 'acme' })!.arm));
    expect(arms.size).toBe(2);
    expect(chooseArm('plain', config.models.plain, { requestId: 'r' })).toBeUndefined();
  });

  it('rejects a config whose arm names an unknown provider or repeats a name', () => {
    expect(() =>
      parseConfig({
        providers: {},
        models: { m: { targets: [{ provider: 'x', model: 'y' }], experiment: { arms: [{ name: 'a', weight: 1 }, { name: 'a', weight: 1, targets: [{ provider: 'z', model: 'y' }] }] } } },
      }),
    ).toThrow(/experiment\.arms\.1\.targets\.0\.provider: unknown provider 'z'[\s\S]*experiment\.arms\.1\.name: duplicate arm 'a'/);
  });
});

describe('Method: requestEvidence', () => {
  const longSystem = 'You are a careful assistant for the support team. '.repeat(200);

  it('records the output cap in force when given', () => {
    expect(requestEvidence({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 300 }, 300)).toEqual({ outputCapTokens: 300 });
    expect(requestEvidence({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toEqual({});
  });

  it('hashes a long prefix (all but the last message) the same whatever the last message says', () => {
    const a = requestEvidence({ model: 'm', messages: [{ role: 'system', content: longSystem }, { role: 'user', content: 'question one' }] });
    const b = requestEvidence({ model: 'm', messages: [{ role: 'system', content: longSystem }, { role: 'user', content: 'another question' }] });
    expect(a.prefixHash).toMatch(/^[0-9a-f]{16}$/);
    expect(a.prefixHash).toBe(b.prefixHash);
    expect(a.prefixTokens).toBeGreaterThanOrEqual(CACHEABLE_PREFIX_TOKENS);
    const c = requestEvidence({ model: 'm', messages: [{ role: 'system', content: `${longSystem}!` }, { role: 'user', content: 'question one' }] });
    expect(c.prefixHash).not.toBe(a.prefixHash);
  });

  it('records no prefix when it is too short to be cached', () => {
    expect(requestEvidence({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] })).toEqual({});
  });
});
