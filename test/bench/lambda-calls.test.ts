/**
 * bench/lambda-calls.ts, which `npm run bench` runs and the cost model prices: the Lambda handler itself
 * (lambda/handlers/gateway-handler.ts) over the bench's workload, its store calls counted at the client.
 * A busy container writes the request's two items and flushes its lease spend once per invocation; its
 * shutdown gives the leases back.
 */
import { lambdaCallsMarkdown, measureLambdaCalls } from '../../bench/lambda-calls';

jest.setTimeout(60_000);

it('counts the store calls of a cold invocation, of each later one, and of the shutdown', async () => {
  const l = await measureLambdaCalls({ invocations: 5 });
  // Cold: the key and its policies are read, the leases opened.
  expect(l.first.byCommand.GetItem).toBeGreaterThanOrEqual(1);
  expect(l.first.calls).toBeGreaterThan(l.steady.calls);
  // Later: the lease index entry and the record (PutItem), and the flush before the container may freeze.
  expect(l.steady.byCommand.PutItem).toBe(2);
  expect(l.steady.byCommand.UpdateItem).toBeGreaterThanOrEqual(1);
  expect(l.steady.writes).toBeGreaterThanOrEqual(3);
  expect(l.steady.writeUnits).toBeGreaterThanOrEqual(l.steady.writes);
  // Shutdown: every lease given back, none left to the sweeper.
  expect(l.shutdown.leftToSweeper).toBe(0);
  expect(l.shutdown.byCommand.UpdateItem).toBeGreaterThanOrEqual(1);
  // Between invocations the container's lease parks one worst case of the bench's request on the hard
  // budget (146 µ$ against 22 µ$ spent, 6.6×, at 17:30; lambda-runtime.ts LAMBDA_KEEP_WORST_CASES), not a rate's
  // worth (LEASES=rate: 8,264 µ$).
  expect(l.parkedMicros).toBeGreaterThan(l.spentMicrosPerInvocation!);
  expect(l.parkedMicros).toBeLessThan(12 * l.spentMicrosPerInvocation!);
  expect(lambdaCallsMarkdown(l)).toContain('| invocations 2-5, per invocation |');
  // The container runs on Lambda's Node when it is here (.ci/run installs it), and says which.
  expect(l.node).toMatch(/^v\d+\./);
  if (process.env.TOLLGATE_LAMBDA_NODE) expect(l.node).toMatch(/^v22\./);
  expect(lambdaCallsMarkdown(l)).toContain(`under node ${l.node}`);
  expect(lambdaCallsMarkdown(l)).toContain('parks on the key');
  // The container's CPU before each warm invocation's first write: some work (auth, admission, the upstream
  // request, the first chunk), and never more than the measured invocations spent in all (each burst is
  // part of its invocation's CPU).
  expect(l.firstWriteCpuMs!.p50).toBeGreaterThan(0);
  expect(l.firstWriteCpuMs!.p99).toBeLessThanOrEqual(l.cpuMsPerInvocation! * (5 - 2));
  expect(lambdaCallsMarkdown(l)).toContain('CPU before the first byte');
  if (process.platform === 'linux') {
    // Split by thread where Linux tells it: the main thread's share is measured too.
    expect(l.firstWriteMainMs!.p50).toBeGreaterThan(0);
    expect(lambdaCallsMarkdown(l)).toContain('of it on the main thread');
  }
});
