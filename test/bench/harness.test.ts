/**
 * Smoke test of the benchmark harness: a tiny in-process run must produce every section with sane
 * numbers (counts, finite and positive timings). No timing thresholds: this machine's speed is not
 * under test, the harness is.
 */
import { measureBundles } from '../../bench/bundle';
import { runBench, type BenchReport } from '../../bench/harness';
import { toMarkdown } from '../../bench/report';

describe('Benchmark harness', () => {
  let report: BenchReport;

  beforeAll(async () => {
    report = await runBench({
      label: 'smoke',
      topology: 'in-process',
      upstream: { firstByteDelayMs: 2, chunks: 4, longChunks: 100 },
      sequentialRequests: 4,
      concurrentRequests: 8,
      concurrency: 4,
      batch: 4,
      warmupRequests: 2,
      relayRepetitions: 1,
      accountingRequests: 3,
      includeOpenGateway: true,
      includeFloorRelay: true,
      cpuProfile: false,
    });
    report.bundle = await measureBundles({ coldRuns: 1 });
  }, 240_000);

  it('measures streaming and non-streaming latency at concurrency 1 and high, on every path', () => {
    expect(report.latency.map((s) => s.name)).toEqual(['stream, c=1', 'non-stream, c=1', 'stream, c=4', 'non-stream, c=4']);
    for (const s of report.latency) {
      for (const path of ['direct', 'gateway', 'gateway-open', 'relay-floor'] as const) {
        const p = s.paths[path];
        expect(p?.errors).toBe(0);
        expect(p?.ttft.n).toBe(s.concurrency === 1 ? 4 : 8);
        expect(p?.ttft.p50).toBeGreaterThan(0);
        expect(p?.total.p99).toBeGreaterThanOrEqual(p?.ttft.p99 ?? Infinity);
      }
      expect(Number.isFinite(s.added.gateway?.ttftMs.p50)).toBe(true);
      expect(Number.isFinite(s.added['relay-floor']?.ttftMs.p50)).toBe(true);
      expect(s.added.gateway?.ttftRatioP50).toBeGreaterThan(0);
      if (s.concurrency > 1) expect(s.paths.gateway?.throughputRps).toBeGreaterThan(0);
    }
  });

  it('measures the relay of a long stream for each adapter', () => {
    expect(report.relay.length).toBeGreaterThanOrEqual(1);
    for (const r of report.relay) {
      expect(r.chunks).toBe(100);
      expect(r.gatewayChunksPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(r.addedUsPerChunk)).toBe(true);
    }
  });

  it('accounts DynamoDB calls and CPU per request, and reports memory', () => {
    expect(report.accounting.map((a) => a.kind)).toEqual(['stream', 'non-stream']);
    for (const a of report.accounting) {
      expect(a.requests).toBe(3);
      expect(a.dynamo.totalPerRequest).toBeGreaterThan(0);
      expect(a.gatewayCpuMsPerRequest).toBeGreaterThan(0);
      // The same requests without the gatekeeper, on the open gateway's own CPU counter.
      expect(a.openGatewayCpuMsPerRequest).toBeGreaterThan(0);
    }
    // The bare relay's own CPU counter (its child process), streaming only.
    expect(report.accounting[0].floorRelayCpuMsPerRequest).toBeGreaterThan(0);
    expect(report.accounting[1].floorRelayCpuMsPerRequest).toBeUndefined();
    expect(report.memory.gatewayMaxRssMb).toBeGreaterThan(10);
  });

  it('bundles the Lambda handler and times its cold require', () => {
    const gateway = report.bundle?.entries.find((e) => e.entry === 'lambda/handlers/gateway.ts');
    expect(gateway?.bytes).toBeGreaterThan(0);
    expect(gateway?.gzipBytes).toBeLessThan(gateway?.bytes ?? 0);
    expect(report.bundle?.coldInit.requireMs.p50).toBeGreaterThan(0);
    // What the first use of each other chunk a Lambda container may load costs (lib/lazy-chunks.ts).
    const firstUse = report.bundle?.coldInit.firstUseChunksMs ?? [];
    expect(firstUse.map((c) => c.module)).toEqual(['@pydantic/genai-prices', '@aws-sdk/client-sns', '@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@smithy/node-http-handler', '@aws-sdk/client-bedrock-runtime', '@aws-lambda-powertools/parameters/secrets']);
    for (const c of firstUse) expect(c.ms.p50).toBeGreaterThan(0);
    expect(toMarkdown(report)).toContain('lazy chunk @aws-sdk/client-sns: require() on its first use');
  });

  it('renders every section as Markdown', () => {
    const md = toMarkdown(report);
    for (const heading of ['## Latency', '## Throughput', '## Streaming relay cost', '## Per gateway request', '## Memory, bundle and cold start']) {
      expect(md).toContain(heading);
    }
    // The targets table carries the bare relay's numbers from the same run.
    expect(md).toMatch(/\| added TTFT, streaming, c=1, p50 \/ p99 \| ≤ 2 \/ ≤ 5 ms \| [^|]+ \| (not )?met \| [+-]\d/);
  });
});
