/** The report as Markdown: one table per section, numbers already rounded by the harness. */
import { memoryMarkdown, QUOTA_PERIOD_MS } from './cost-model';
import type { BenchReport, PathResult } from './harness';
import { lambdaCallsMarkdown } from './lambda-calls';
import { round } from './stats';

const f = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '–' : round(v, digits).toFixed(digits));
const signed = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '–' : `${v >= 0 ? '+' : ''}${round(v, digits).toFixed(digits)}`);

export function toMarkdown(r: BenchReport): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`# Tollgate benchmark (${m.label})`, '');
  out.push(
    `${m.date} · Node ${m.node} · ${m.platform} · ${m.cpus} × ${m.cpuModel} · topology: ${m.topology} · ${m.durationSeconds} s · load average ${m.loadAverage.start} → ${m.loadAverage.end}`,
    '',
    `Gateway: ${m.composition}.${m.gatewayNode ? ` Gateway processes on Node ${m.gatewayNode} (TOLLGATE_BENCH_NODE); the client, the upstream double and the store on ${m.node}.` : ''} ${m.gatewayRunner === 'bundle' ? 'Run as its esbuild bundle under node, as Lambda runs it (TOLLGATE_BENCH_RUNNER=tsx: the sources under tsx, as npm start).' : m.gatewayRunner === 'tsx' ? 'Run from its TypeScript sources under tsx (npm start\'s way).' : ''}`,
    '',
    `Upstream double: ${m.upstream.firstByteDelayMs} ms before the first byte, ${m.upstream.chunks} content chunks per answer; long stream ${m.upstream.longChunks} chunks, no delay. ` +
      'Direct and gateway requests are interleaved (rotating order per request at c=1, per batch at high concurrency). ' +
      '"Added" is the gateway percentile minus the direct percentile; TTFT is time to the first SSE `data:` byte (non-streaming: first body byte).',
    '',
  );

  out.push(...targetsSection(r));
  out.push('## Latency', '');
  out.push('| scenario | metric | direct p50 / p90 / p99 (ms) | gateway p50 / p90 / p99 (ms) | added p50 / p90 / p99 (ms) | ratio p50 |');
  out.push('|---|---|---|---|---|---|');
  for (const s of r.latency) {
    for (const metric of ['ttft', 'total'] as const) {
      const d = s.paths.direct;
      const g = s.paths.gateway;
      const a = s.added.gateway;
      const am = metric === 'ttft' ? a?.ttftMs : a?.totalMs;
      out.push(
        `| ${s.name} | ${metric === 'ttft' ? 'TTFT' : 'total'} | ${triple(d, metric)} | ${triple(g, metric)} | ${signed(am?.p50)} / ${signed(am?.p90)} / ${signed(am?.p99)} | ${f(metric === 'ttft' ? a?.ttftRatioP50 : a?.totalRatioP50, 3)} |`,
      );
    }
  }
  out.push('');

  const open = r.latency.filter((s) => s.added['gateway-open']);
  if (open.length) {
    out.push('### Where the added time goes: gateway without gatekeeper (no auth, limits, budget, metering: no store calls)', '');
    out.push('| scenario | added TTFT p50 / p90 / p99, full (ms) | added TTFT p50 / p90 / p99, no gatekeeper (ms) | store share of added p50 (ms) | added TTFT p50 / p90 / p99, bare relay (ms) | bare relay + 2 store writes (ms) |');
    out.push('|---|---|---|---|---|---|');
    const p3 = (a?: { p50: number; p90: number; p99: number }) => (a ? `${signed(a.p50)} / ${signed(a.p90)} / ${signed(a.p99)}` : '–');
    for (const s of open) {
      const fa = s.added.gateway?.ttftMs;
      const oa = s.added['gateway-open']?.ttftMs;
      out.push(`| ${s.name} | ${p3(fa)} | ${p3(oa)} | ${signed(fa && oa ? fa.p50 - oa.p50 : undefined)} | ${p3(s.added['relay-floor']?.ttftMs)} | ${p3(s.added['relay-floor-store']?.ttftMs)} |`);
    }
    out.push('');
  }

  out.push('## Throughput', '');
  out.push(
    'Busy cores: CPU seconds per wall second of the process serving the path while its batches ran (1.00: one Node process saturated; ' +
      'this machine has ' + r.meta.cpus + ', shared by the client, the upstream double, the store and the process measured).',
    '',
  );
  out.push(
    '| scenario | direct (req/s) | gateway (req/s) | gateway / direct | no gatekeeper / direct | bare relay / direct | bare relay + 2 store writes / direct | busy cores: gateway + its store / no gatekeeper / bare relay / bare relay + writes + its store | errors (direct / gateway) |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const s of r.latency.filter((x) => x.concurrency > 1)) {
    const d = s.paths.direct;
    const ratio = (p?: PathResult) => f(p && d ? (p.throughputRps ?? 0) / (d.throughputRps ?? 1) : undefined, 3);
    const g = s.paths.gateway;
    out.push(
      `| ${s.name} | ${f(d?.throughputRps, 0)} | ${f(g?.throughputRps, 0)} | ${ratio(g)} | ${ratio(s.paths['gateway-open'])} | ${ratio(s.paths['relay-floor'])} | ${ratio(s.paths['relay-floor-store'])} | ` +
        `${f(g?.busyCores?.server)} + ${f(g?.busyCores?.store)} / ${f(s.paths['gateway-open']?.busyCores?.server)} / ${f(s.paths['relay-floor']?.busyCores?.server)} / ` +
        `${f(s.paths['relay-floor-store']?.busyCores?.server)} + ${f(s.paths['relay-floor-store']?.busyCores?.store)} | ${d?.errors ?? '–'} / ${g?.errors ?? '–'} |`,
    );
  }
  out.push('');

  out.push('## Streaming relay cost (long stream, no per-chunk delay)', '');
  out.push('| adapter | chunks | direct p50 (ms) | gateway p50 (ms) | direct chunks/s | gateway chunks/s | added µs per chunk |');
  out.push('|---|---|---|---|---|---|---|');
  for (const x of r.relay) {
    out.push(`| ${x.adapter} | ${x.chunks} | ${f(x.directMs.p50)} | ${f(x.gatewayMs.p50)} | ${f(x.directChunksPerSec, 0)} | ${f(x.gatewayChunksPerSec, 0)} | ${f(x.addedUsPerChunk)} |`);
  }
  out.push('');

  out.push('## Per gateway request: DynamoDB and CPU', '');
  out.push(
    '| kind | requests | DynamoDB calls / request | on the request path / off it (batched, background) | by command | RCU / request | WCU / request | gateway CPU ms / request | without gatekeeper (no store) | bare relay | bare relay + 2 store writes | store process (dynalite) CPU ms / request |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const a of r.accounting) {
    const by = Object.entries(a.dynamo.perRequest).map(([k, v]) => `${k.replace(/Command$/, '')} ${v}`).join(', ') || 'none';
    out.push(
      `| ${a.kind} | ${a.requests} | ${f(a.dynamo.totalPerRequest)} | ${f(a.dynamo.requestPathPerRequest)} / ${f(a.dynamo.backgroundPerRequest)} | ${by} | ${f(a.dynamo.readUnitsPerRequest)} | ${f(a.dynamo.writeUnitsPerRequest)} | ${f(a.gatewayCpuMsPerRequest, 3)} | ${a.openGatewayCpuMsPerRequest === undefined ? '–' : f(a.openGatewayCpuMsPerRequest, 3)} | ${a.floorRelayCpuMsPerRequest === undefined ? '–' : f(a.floorRelayCpuMsPerRequest, 3)} | ${a.floorStoreRelayCpuMsPerRequest === undefined ? '–' : f(a.floorStoreRelayCpuMsPerRequest, 3)} | ${a.storeCpuMsPerRequest === undefined ? '–' : f(a.storeCpuMsPerRequest, 3)} |`,
    );
  }
  out.push('');

  if (r.lambda) {
    out.push(
      '## Per Lambda invocation: DynamoDB and CPU',
      '',
      `A Lambda container of the gateway (bench/lambda-calls.ts): the handler's bundle (lambda/handlers/gateway-handler.ts, with its after-invocation work) under plain node, driven by the runtime's own invocation loop (test/support/lambda-runtime-client.ts: the response streamed back as chunked HTTP, the next invocation asked for once the event loop is empty) against a Runtime API on loopback; ${r.lambda.invocations} streamed invocations of the same workload, one after another, the store on dynalite. ` +
        'Unlike the local server, a container flushes its lease spend after every invocation (it may be frozen as soon as the invocation returns): ' +
        'the cost model below prices these counts and this CPU.',
      '',
      lambdaCallsMarkdown(r.lambda),
      ...(() => {
        const local = r.accounting.find((a) => a.kind === 'stream')?.gatewayCpuMsPerRequest;
        const cpu = r.lambda.cpuMsPerInvocation;
        // The container runs on Lambda's Node (bench/lambda-calls.ts lambdaNode), the local server on the gateway's.
        const gatewayNode = r.meta.gatewayNode ?? r.meta.node;
        const across = r.lambda.node && r.lambda.node !== gatewayNode ? ` (the container on Node ${r.lambda.node}, the local server on ${gatewayNode})` : '';
        return local && cpu !== undefined ? [`The container's CPU per invocation is ${(cpu / local).toFixed(2)}× the local server's per streamed request in this run (${local.toFixed(2)} ms)${across}.`] : [];
      })(),
      '',
    );
  }

  out.push('## Lambda memory size: cost per million requests on the measured CPU', '');
  out.push(
    'Assumption: Lambda allocates CPU in proportion to memory (1 vCPU at 1,769 MB) and one core here is worth one Graviton vCPU; CPU-bound work, ' +
      'and the added time to first token measured here, stretch by 1 / share (the worst case, which the default memory follows). ' +
      `The quota column assumes instead what has been observed from outside (not documented by AWS): the share enforced as a quota per ${QUOTA_PERIOD_MS} ms period, ` +
      'under which a burst that fits one period\'s quota runs at full speed and each quota overrun waits out its period (bench/cost-model.ts quotaWallMs). Workload: an 8 s streamed generation (bench/cost-model.ts).',
    '',
    memoryMarkdown(r),
    '',
  );

  out.push('## Memory, bundle and cold start', '');
  out.push('| measure | value |');
  out.push('|---|---|');
  out.push(`| gateway process peak RSS during the run (maxRSS) | ${f(r.memory.gatewayMaxRssMb, 1)} MB |`);
  out.push(`| gateway process RSS after start | ${f(r.memory.gatewayRssAfterStartMb, 1)} MB |`);
  out.push(`| gateway heap used at the end, after a full GC (processes topology) | ${f(r.memory.gatewayHeapUsedAfterGcMb, 1)} MB |`);
  for (const e of r.bundle?.entries ?? []) {
    out.push(`| bundle ${e.entry} (minified / gzipped; + source map) | ${f(e.bytes / 1024, 1)} KiB / ${f(e.gzipBytes / 1024, 1)} KiB (+ ${f(e.sourceMapBytes / 1024, 0)} KiB map) |`);
    for (const k of e.lazyChunks ?? []) {
      out.push(`| lazy chunk ${k.module} next to it (minified / gzipped; not loaded at init) | ${f(k.bytes / 1024, 1)} KiB / ${f(k.gzipBytes / 1024, 1)} KiB |`);
    }
  }
  const c = r.bundle?.coldInit;
  if (c) {
    out.push(`| cold init: require(${c.entry}) median / p90 (${c.runs} fresh processes) | ${f(c.requireMs.p50, 1)} ms / ${f(c.requireMs.p90, 1)} ms |`);
    if (c.lazyChunkMs) {
      out.push(`| lazy chunk ${c.lazyChunkMs.module}: require() after the bundle, median / p90 (off the first request's path) | ${f(c.lazyChunkMs.ms.p50, 1)} ms / ${f(c.lazyChunkMs.ms.p90, 1)} ms |`);
    }
    for (const k of c.firstUseChunksMs ?? []) {
      out.push(`| lazy chunk ${k.module}: require() on its first use (${k.firstUse}), median of ${k.ms.n} | ${f(k.ms.p50, 1)} ms |`);
    }
    out.push(`| cold init: whole node process (spawn → exit) median / p90 | ${f(c.processMs.p50, 1)} ms / ${f(c.processMs.p90, 1)} ms |`);
    if (c.note) out.push(`| note | ${c.note} |`);
  }
  out.push('');
  const gw = r.bundle?.entries.find((e) => e.entry.endsWith('gateway.ts'));
  if (gw) {
    out.push('Largest modules in the gateway bundle (minified KiB): ' + gw.largestModules.map((m) => `${m.module} ${f(m.bytes / 1024, 0)}`).join(', ') + '.', '');
  }

  if (r.profile) {
    out.push(`## CPU profile of the gateway process (${r.profile.profiledRequests}; ${f(r.profile.totalSampledMs, 0)} ms sampled, idle excluded)`, '');
    out.push('| area | self time % |');
    out.push('|---|---|');
    for (const a of r.profile.byArea) out.push(`| ${a.area} | ${f(a.selfPct, 1)} |`);
    out.push('', '| function | where | self time % |', '|---|---|---|');
    for (const t of r.profile.topFunctions) out.push(`| ${t.fn} | ${t.where} | ${f(t.selfPct, 1)} |`);
    out.push('');
  }
  return out.join('\n');
}

/** The targets of issue 13, each with what this run measured. */
function targetsSection(r: BenchReport): string[] {
  const c1 = r.latency.find((s) => s.stream && s.concurrency === 1)?.added.gateway?.ttftMs;
  const c16 = r.latency.find((s) => s.stream && s.concurrency === 16)?.added.gateway?.ttftMs;
  const c64 = r.latency.find((s) => s.stream && s.concurrency === 64);
  const tput = c64 ? (c64.paths.gateway?.throughputRps ?? 0) / (c64.paths.direct?.throughputRps ?? 1) : undefined;
  const acc = r.accounting.find((a) => a.kind === 'stream');
  const cold = r.bundle?.coldInit.requireMs.p50;
  // The bare relay (bench/relay-floor.ts) ran as a path of its own in the same interleaving: the same
  // measures for a Node process that only relays and re-serialises the SSE events.
  const floorC1 = r.latency.find((s) => s.stream && s.concurrency === 1)?.added['relay-floor']?.ttftMs;
  const floorC16 = r.latency.find((s) => s.stream && s.concurrency === 16)?.added['relay-floor']?.ttftMs;
  const floorTput = c64?.paths['relay-floor'] ? (c64.paths['relay-floor'].throughputRps ?? 0) / (c64.paths.direct?.throughputRps ?? 1) : undefined;
  const hasFloor = floorC1 !== undefined;
  // The same bare relay with the two store writes the issue leaves on the request path (the index entry
  // before the first byte, the record after the last), the cheapest way this repo can make them.
  const storeC1 = r.latency.find((s) => s.stream && s.concurrency === 1)?.added['relay-floor-store']?.ttftMs;
  const storeC16 = r.latency.find((s) => s.stream && s.concurrency === 16)?.added['relay-floor-store']?.ttftMs;
  const storeTput = c64?.paths['relay-floor-store'] ? (c64.paths['relay-floor-store'].throughputRps ?? 0) / (c64.paths.direct?.throughputRps ?? 1) : undefined;
  const hasStoreFloor = storeC1 !== undefined;
  const row = (what: string, target: string, value: string, met: boolean | undefined, floor?: string, storeFloor?: string) =>
    `| ${what} | ${target} | ${value} | ${met === undefined ? '–' : met ? 'met' : 'not met'} |${hasFloor ? ` ${floor ?? '–'} |` : ''}${hasStoreFloor ? ` ${storeFloor ?? '–'} |` : ''}`;
  const le = (v: number | undefined, t: number) => (v === undefined ? undefined : v <= t);
  return [
    '## Against the targets (issue 13)',
    '',
    ...(hasFloor
      ? [
          'Floor: a bare Node relay (`bench/relay-floor.ts`, node:http in and out, each SSE event parsed and re-serialised, nothing else) ' +
            'measured as a path of its own in the same interleaving, against the same double: what this machine allows before Tollgate does anything.',
          '',
        ]
      : []),
    ...(hasStoreFloor
      ? [
          'Floor with the store: the same relay plus the two DynamoDB writes the issue leaves on the request path (`bench/processes/floor-process.ts`: ' +
            'a lease index entry the first byte waits for, a usage record after the last byte; prebuilt items of the gateway\'s size, signed and sent with ' +
            "the gateway's own signer and HTTP client to the same store): what the required work costs here, before auth, routing, limits, pricing and telemetry.",
          '',
        ]
      : []),
    `| measure | target | this run | |${hasFloor ? ' bare relay, same run |' : ''}${hasStoreFloor ? ' bare relay + 2 store writes, same run |' : ''}`,
    `|---|---|---|---|${hasFloor ? '---|' : ''}${hasStoreFloor ? '---|' : ''}`,
    row(
      'added TTFT, streaming, c=1, p50 / p99',
      '≤ 2 / ≤ 5 ms',
      `${signed(c1?.p50)} / ${signed(c1?.p99)} ms`,
      c1 ? c1.p50 <= 2 && c1.p99 <= 5 : undefined,
      floorC1 && `${signed(floorC1.p50)} / ${signed(floorC1.p99)} ms`,
      storeC1 && `${signed(storeC1.p50)} / ${signed(storeC1.p99)} ms`,
    ),
    row(
      'added TTFT p50, c=16 vs c=1',
      '≤ 2×',
      c16 && c1 ? `${signed(c16.p50)} vs ${signed(c1.p50)} ms` : '–',
      c16 && c1 ? c16.p50 <= 2 * Math.max(c1.p50, 0) : undefined,
      floorC16 && floorC1 && `${signed(floorC16.p50)} vs ${signed(floorC1.p50)} ms`,
      storeC16 && storeC1 && `${signed(storeC16.p50)} vs ${signed(storeC1.p50)} ms`,
    ),
    row(
      'throughput at c=64, gateway / direct',
      '≥ 0.5',
      f(tput, 3),
      tput === undefined ? undefined : tput >= 0.5,
      floorTput === undefined ? undefined : f(floorTput, 3),
      storeTput === undefined ? undefined : f(storeTput, 3),
    ),
    row(
      'gateway CPU per request (streaming)',
      '≤ 3 ms',
      `${f(acc?.gatewayCpuMsPerRequest, 2)} ms`,
      le(acc?.gatewayCpuMsPerRequest, 3),
      acc?.floorRelayCpuMsPerRequest === undefined ? undefined : `${f(acc.floorRelayCpuMsPerRequest, 2)} ms`,
      acc?.floorStoreRelayCpuMsPerRequest === undefined ? undefined : `${f(acc.floorStoreRelayCpuMsPerRequest, 2)} ms`,
    ),
    row(
      'DynamoDB writes per request on the request path (all calls on it)',
      '≤ 2',
      `${f(acc?.dynamo.requestPathWritesPerRequest)} (${f(acc?.dynamo.requestPathPerRequest)})`,
      le(acc?.dynamo.requestPathWritesPerRequest, 2),
    ),
    row('cold require() of the gateway bundle, median', '≤ 150 ms', `${f(cold, 1)} ms`, le(cold, 150)),
    '',
  ];
}

function triple(p: PathResult | undefined, metric: 'ttft' | 'total'): string {
  if (!p) return '–';
  const s = p[metric];
  return `${f(s.p50)} / ${f(s.p90)} / ${f(s.p99)}`;
}

