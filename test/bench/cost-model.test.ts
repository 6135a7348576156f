/**
 * bench/cost-model.ts's memory sizes: priced on the Lambda container's CPU per invocation when the run
 * measured it (bench/lambda-calls.ts), on the local server's otherwise; CPU and the added time to first
 * token stretch by 1 / the memory size's CPU share.
 */
import { FULL_VCPU_MB, memoryCpuBasis, memoryMarkdown, memoryOptions, quotaFullSpeedMemory, quotaWallMs, recommendedMemory } from '../../bench/cost-model';
import type { BenchReport } from '../../bench/harness';

type Input = Pick<BenchReport, 'accounting' | 'latency' | 'lambda'>;

function report(opts: { localCpuMs: number; lambdaCpuMs?: number; ttftP50: number; ttftP99: number; firstWrite?: { p50: number; p99: number } }): Input {
  const calls = { calls: 3, writes: 3, writeUnits: 3, readUnits: 1, byCommand: {} };
  return {
    accounting: [{ kind: 'stream', gatewayCpuMsPerRequest: opts.localCpuMs, dynamo: { writeUnitsPerRequest: 2, readUnitsPerRequest: 1 } }],
    latency: [{ stream: true, concurrency: 1, added: { gateway: { ttftMs: { p50: opts.ttftP50, p99: opts.ttftP99 } } } }],
    lambda: opts.lambdaCpuMs === undefined ? undefined : { invocations: 10, first: calls, steady: calls, shutdown: { ...calls, leftToSweeper: 0 }, cpuMsPerInvocation: opts.lambdaCpuMs, ...(opts.firstWrite ? { firstWriteCpuMs: opts.firstWrite } : {}) },
  } as unknown as Input;
}

it('prices the memory sizes on the container CPU when measured, else on the local server', () => {
  const withLambda = report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 0.5, ttftP99: 1 });
  expect(memoryCpuBasis(withLambda)).toEqual({ cpuMs: 9, source: 'lambda container' });
  const at1024 = memoryOptions(withLambda).find((o) => o.memoryMb === 1024)!;
  expect(at1024.cpuMsPerRequest).toBeCloseTo(9 / (1024 / FULL_VCPU_MB), 6);
  expect(memoryMarkdown(withLambda)).toContain('container CPU ms / invocation at that share');

  const localOnly = report({ localCpuMs: 4, ttftP50: 0.5, ttftP99: 1 });
  expect(memoryCpuBasis(localOnly)).toEqual({ cpuMs: 4, source: 'local server' });
  expect(memoryOptions(localOnly).find((o) => o.memoryMb === 1024)!.cpuMsPerRequest).toBeCloseTo(4 / (1024 / FULL_VCPU_MB), 6);
  // More CPU billed: the same size costs more on the container's measure.
  expect(memoryOptions(withLambda)[0].perMillionUsd).toBeGreaterThan(memoryOptions(localOnly)[0].perMillionUsd);
});

it('recommends the cheapest size that keeps the latency targets, the largest when none does', () => {
  // 0.5 / 1 ms at a full core: 256 MB stretches them to ~3.5 / ~6.9 ms (misses), 512 MB to ~1.7 / ~3.5 ms.
  expect(recommendedMemory(memoryOptions(report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 0.5, ttftP99: 1 }))).memoryMb).toBe(512);
  expect(recommendedMemory(memoryOptions(report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 3, ttftP99: 9 }))).memoryMb).toBe(1024);
});

it('under a quota per 20 ms period, runs a burst that fits the quota at full speed and waits out each period it overruns', () => {
  const share = 256 / FULL_VCPU_MB; // a 2.89 ms quota per period
  expect(quotaWallMs(2, share)).toBe(2);
  expect(quotaWallMs(20 * share, share)).toBeCloseTo(20 * share, 9);
  // 5 ms: the first period's quota, its wait to 20 ms, then the rest.
  expect(quotaWallMs(5, share)).toBeCloseTo(20 + (5 - 20 * share), 9);
  // 7 ms: two quotas used up and waited out.
  expect(quotaWallMs(7, share)).toBeCloseTo(40 + (7 - 40 * share), 9);
  expect(quotaWallMs(7, 1)).toBe(7);
});

it('names the cheapest size whose quota covers the added time to first token, next to the worst case', () => {
  // p99 3.5 ms: over 256 MB's 2.89 ms quota (a period's wait), within 512 MB's 5.79 ms.
  const options = memoryOptions(report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 1.5, ttftP99: 3.5 }));
  const [at256, at512] = options;
  expect(at256.quotaTtftP50Ms).toBe(1.5);
  expect(at256.quotaTtftP99Ms).toBeCloseTo(20 + 3.5 - 20 * (256 / FULL_VCPU_MB), 9);
  expect(at512.quotaTtftP99Ms).toBe(3.5);
  expect(quotaFullSpeedMemory(options)?.memoryMb).toBe(512);
  // The worst case (stretch by 1 / share) still decides the recommendation: 1.5 ms p50 is 2.6 ms at 1024 MB.
  expect(recommendedMemory(options).memoryMb).toBe(1024);
  const md = memoryMarkdown(report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 1.5, ttftP99: 3.5 }));
  expect(md).toContain('quota per 20 ms period');
  expect(md).toContain('512 MB is the cheapest size at which the added time to first token measured here is not stretched');
  expect(quotaFullSpeedMemory(memoryOptions(report({ localCpuMs: 4, ttftP50: 3, ttftP99: 20 })))).toBeUndefined();
});

it('takes the container\'s measured CPU before its first write as the burst when the run measured it', () => {
  // Local added time 1.5 / 3.5 ms; the container's burst 2.5 / 4 ms: its p99 overruns 256 MB's 2.89 ms quota.
  const r = report({ localCpuMs: 4, lambdaCpuMs: 9, ttftP50: 1.5, ttftP99: 3.5, firstWrite: { p50: 2.5, p99: 4 } });
  const [at256, at512] = memoryOptions(r);
  const quota256 = 20 * (256 / FULL_VCPU_MB);
  expect(at256.quotaTtftP50Ms).toBe(1.5);
  // The pause is the rest of the period after the quota: 20 - 2.89 ms, on top of the 3.5 ms measured here.
  expect(at256.quotaTtftP99Ms).toBeCloseTo(3.5 + (20 - quota256), 9);
  expect(at256.quotaThrottled).toBe(true);
  expect(at512.quotaTtftP99Ms).toBe(3.5);
  expect(at512.quotaThrottled).toBe(false);
  expect(memoryMarkdown(r)).toContain("the p99 burst before the first byte, 4.00 ms of the container's CPU at p99, fits the 5.8 ms quota");
});
