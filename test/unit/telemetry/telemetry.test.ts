/**
 * Telemetry driven through the real app (createGatewayApp, scripted in-process adapters): the JSON log
 * line and the EMF documents Powertools actually writes to stdout, for non-streamed, streamed, failed and
 * rejected requests.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createGatewayApp, type GatewayApp } from '../../../lambda/app/gateway-app';
import { createTelemetry, type Telemetry, type TelemetryOptions } from '../../../lambda/app/telemetry';
import { parseConfig, type TollgateConfig } from '../../../lambda/core/config';
import { AuthenticationError, BudgetExceededError, RateLimitError, UpstreamError } from '../../../lambda/core/errors';
import { ClientAbortedError } from '../../../lambda/core/routing';
import type { Attribution, Gatekeeper, RequestOutcome } from '../../../lambda/core/gatekeeper';
import { METRICS } from '../../../lambda/core/metrics-catalog';
import type { ChatCompletion, ChatCompletionChunk } from '../../../lambda/core/openai-schema';
import type { ProviderAdapter } from '../../../lambda/providers/types';
import { captureStdout, directive, directiveFor, expectValidEmf, findDoc, type EmfDocument, type StdoutCapture } from './stdout-capture';

const CLIENT_KEY = 'tg-live-CLIENTSECRET0123456789';
// Key-shaped so the redaction of an upstream that echoes it is exercised; built at run time so no
// key-shaped literal sits in the repository.
const PROVIDER_KEY = ['sk', 'proj', 'PROVIDERSECRET9876543210'].join('-');

type Script = { fail?: UpstreamError; chunks?: string[]; failAfter?: number };

function scriptedAdapter(id: string, script: () => Script): ProviderAdapter {
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null): ChatCompletionChunk => ({
    id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    id,
    async chat(call): Promise<ChatCompletion> {
      const s = script();
      if (s.fail) throw s.fail;
      return {
        id: 'x', object: 'chat.completion', created: 1, model: call.request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: (s.chunks ?? []).join('') }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, prompt_tokens_details: { cached_tokens: 2 } },
      };
    },
    async *chatStream() {
      const s = script();
      if (s.fail) throw s.fail;
      const parts = s.chunks ?? [];
      yield chunk({ role: 'assistant', content: '' });
      for (let i = 0; i < parts.length; i++) {
        if (s.failAfter === i) throw new UpstreamError(id, 'connection reset', { upstreamStatus: undefined });
        yield chunk({ content: parts[i] });
      }
      yield chunk({}, 'stop');
      yield { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [], usage: { prompt_tokens: 5, completion_tokens: parts.length, total_tokens: 5 + parts.length } };
    },
  };
}

function makeConfig(observability: Record<string, unknown> = {}): TollgateConfig {
  return parseConfig({
    providers: {
      primary: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
      backup: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:2/v1' },
    },
    models: { chat: { targets: [{ provider: 'primary', model: 'p-model' }, { provider: 'backup', model: 'b-model' }] } },
    server: { retryBaseDelayMs: 1 },
    observability: { namespace: 'TollgateTest', watchedBudgets: ['team:search:month'], ...observability },
  });
}

const ATTRIBUTION: Attribution = { keyId: 'key_01', keyName: 'search-prod', team: 'search', feature: 'autocomplete', customer: 'acme' };

interface Harness {
  app: GatewayApp;
  telemetry: Telemetry;
  /** Runs one request to the end (body read, deferred work done), then flushes as the handler would. */
  call(body: Record<string, unknown>): Promise<Response & { text: string }>;
}

let primary: Script;
let backup: Script;
let admit: () => Attribution = () => ATTRIBUTION;

function harness(config: TollgateConfig, extra: Partial<TelemetryOptions> = {}): Harness {
  const telemetry = createTelemetry({ config, costMicros: (o) => (o.usage ? o.usage.inputTokens * 10 + o.usage.outputTokens * 30 : 0), ...extra });
  const gatekeeper: Gatekeeper = {
    async admit() {
      return { attribution: admit(), headers: {}, settle: async () => undefined };
    },
  };
  const app = createGatewayApp({
    config,
    adapters: new Map([
      ['primary', scriptedAdapter('primary', () => primary)],
      ['backup', scriptedAdapter('backup', () => backup)],
    ]),
    providerKeys: { get: async () => PROVIDER_KEY },
    gatekeeper,
    observer: telemetry.observer,
    random: () => 0,
  });
  return {
    app,
    telemetry,
    async call(body) {
      const pending: Promise<unknown>[] = [];
      const res = await app.fetch(
        new Request('https://gw.local/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
          body: JSON.stringify(body),
        }),
        { waitUntil: (p) => pending.push(p) },
      );
      const text = await res.text();
      await Promise.allSettled(pending);
      telemetry.flush();
      return Object.assign(res, { text });
    },
  };
}

const ask = (extra: Record<string, unknown> = {}) => ({ model: 'chat', messages: [{ role: 'user', content: 'What is the capital of France?' }], ...extra });

describe('Telemetry', () => {
  let out: StdoutCapture;
  const savedEnv = { ...process.env };

  beforeAll(() => {
    // Powertools disables metrics in dev mode; make sure a developer's shell does not hide them.
    delete process.env.POWERTOOLS_DEV;
    delete process.env.POWERTOOLS_METRICS_DISABLED;
  });
  afterAll(() => {
    process.env = savedEnv;
  });
  beforeEach(() => {
    primary = { chunks: ['Par', 'is'] };
    backup = { chunks: ['from ', 'backup'] };
    admit = () => ATTRIBUTION;
    out = captureStdout();
  });
  afterEach(() => out.restore());

  describe('Method: requestEnded', () => {
    it('writes one stdout line, the request log line and its EMF directives, with catalog names, units and dimension sets for a non-streamed request', async () => {
      const h = harness(makeConfig());
      const res = await h.call(ask());
      expect(res.status).toBe(200);

      // One line: the log fields and the request and attribution directives, sharing their values.
      expect(out.lines()).toHaveLength(1);
      const requestLogs = out.logs().filter((l) => l.message === 'request');
      expect(requestLogs).toHaveLength(1);
      expect(requestLogs[0]).toMatchObject({
        level: 'INFO', service: 'tollgate', sampling_rate: 0, keyId: 'key_01', keyName: 'search-prod', team: 'search', feature: 'autocomplete',
        customer: 'acme', model: 'chat', provider: 'primary', upstreamModel: 'p-model', status: 'success', httpStatus: 200,
        stream: false, inputTokens: 7, outputTokens: 3, cachedTokens: 2, costMicros: 160, costUsd: 0.00016, attempts: 1,
        fallback: false, usageEstimated: false,
      });
      expect(new Date(requestLogs[0].timestamp as string).toISOString()).toBe(requestLogs[0].timestamp);
      expect(requestLogs[0].requestId).toBe(res.headers.get('x-tollgate-request-id'));
      expect(requestLogs[0]).not.toHaveProperty('ttftMs');
      expect(requestLogs[0]).not.toHaveProperty('prompt');

      const docs = out.emf();
      expect(docs).toHaveLength(1);
      const [doc] = docs;
      expect(doc._aws.CloudWatchMetrics).toHaveLength(2);
      const [request, attribution] = doc._aws.CloudWatchMetrics;
      expect(request).toEqual({
        Namespace: 'TollgateTest',
        Dimensions: [['Service'], ['Service', 'Model', 'Provider']],
        Metrics: [
          { Name: 'Requests', Unit: 'Count' }, { Name: 'Errors', Unit: 'Count' }, { Name: 'Fallbacks', Unit: 'Count' },
          { Name: 'InputTokens', Unit: 'Count' }, { Name: 'OutputTokens', Unit: 'Count' }, { Name: 'CachedTokens', Unit: 'Count' },
          { Name: 'CostUSD', Unit: 'None' }, { Name: 'Latency', Unit: 'Milliseconds' }, { Name: 'UnpricedRequests', Unit: 'Count' },
        ],
      });
      expect(doc).toMatchObject({
        Service: 'tollgate', Model: 'p-model', Provider: 'primary',
        Requests: 1, Errors: 0, Fallbacks: 0, InputTokens: 7, OutputTokens: 3, CachedTokens: 2, CostUSD: 0.00016,
        // p-model has no price in the config or the catalog (this harness injects the cost): served unpriced.
        UnpricedRequests: 1,
      });
      expect(typeof doc.Latency).toBe('number');
      expect(doc).not.toHaveProperty('TimeToFirstToken');
      expect(doc).not.toHaveProperty('ErrorClass');

      expect(attribution).toEqual({
        Namespace: 'TollgateTest',
        Dimensions: [['Service', 'Feature'], ['Service', 'Team']],
        Metrics: [{ Name: 'Requests', Unit: 'Count' }, { Name: 'InputTokens', Unit: 'Count' }, { Name: 'OutputTokens', Unit: 'Count' }, { Name: 'CostUSD', Unit: 'None' }],
      });
      // The attribution directive must not carry the aggregate set, or totals would be counted twice.
      expect(attribution.Dimensions).not.toContainEqual(['Service']);
      expect(doc).toMatchObject({ Feature: 'autocomplete', Team: 'search' });
    });

    it('records time to first token, fallback and the failed attempt for a streamed request served by the backup', async () => {
      primary = { fail: new UpstreamError('primary', 'overloaded', { upstreamStatus: 529 }) };
      const h = harness(makeConfig());
      const res = await h.call(ask({ stream: true }));
      expect(res.text).toContain('data: [DONE]');

      const docs = out.emf();
      const attempt = findDoc(docs, 'UpstreamAttemptFailures', ['Service', 'Provider'])!;
      expect(directive(attempt).Dimensions).toEqual([['Service'], ['Service', 'Provider']]);
      expect(attempt).toMatchObject({ Provider: 'primary', UpstreamAttemptFailures: 1 });

      const request = findDoc(docs, 'Requests', ['Service', 'Model', 'Provider'])!;
      expect(directiveFor(request, 'Requests', ['Service'])!.Metrics).toContainEqual({ Name: 'TimeToFirstToken', Unit: 'Milliseconds' });
      expect(request).toMatchObject({ Model: 'b-model', Provider: 'backup', Fallbacks: 1, Errors: 0, InputTokens: 5, OutputTokens: 2, CostUSD: 0.00011 });
      expect(request.TimeToFirstToken as number).toBeGreaterThanOrEqual(0);
      expect(request.Latency as number).toBeGreaterThanOrEqual(request.TimeToFirstToken as number);

      const log = out.logs().find((l) => l.message === 'request')!;
      expect(log).toMatchObject({ stream: true, provider: 'backup', fallback: true, attempts: 2, status: 'success' });
      expect(typeof log.ttftMs).toBe('number');
      expect(out.logs().find((l) => l.message === 'upstream attempt failed')).toMatchObject({ level: 'WARN', provider: 'primary', upstreamStatus: 529 });
    });

    it('counts a stream that breaks after the first byte as an upstream error with an error-class document', async () => {
      primary = { chunks: ['a', 'b', 'c'], failAfter: 1 };
      const h = harness(makeConfig());
      await h.call(ask({ stream: true }));
      const docs = out.emf();
      expect(findDoc(docs, 'Requests', ['Service'])).toMatchObject({ Errors: 1 });
      const byClass = findDoc(docs, 'Errors', ['Service', 'ErrorClass'])!;
      // The error-class directive rides on the request's line: one Errors value for both directives.
      expect(byClass._aws.CloudWatchMetrics).toHaveLength(3);
      expect(directiveFor(byClass, 'Errors', ['Service', 'ErrorClass'])).toEqual({
        Namespace: 'TollgateTest', Dimensions: [['Service', 'ErrorClass']], Metrics: [{ Name: 'Errors', Unit: 'Count' }],
      });
      expect(byClass).toMatchObject({ ErrorClass: 'upstream', Errors: 1 });
      expect(byClass).toMatchObject({ message: 'request', level: 'WARN', status: 'stream_error', usageEstimated: true, errorClass: 'upstream' });
    });

    it('attributes a request every target failed to the last target tried', async () => {
      primary = { fail: new UpstreamError('primary', 'down', { upstreamStatus: 500 }) };
      backup = { fail: new UpstreamError('backup', 'down', { upstreamStatus: 503 }) };
      const h = harness(makeConfig());
      expect((await h.call(ask())).status).toBe(502);
      const request = findDoc(out.emf(), 'Requests', ['Service', 'Model', 'Provider'])!;
      expect(request).toMatchObject({ Model: 'b-model', Provider: 'backup', Errors: 1, InputTokens: 0, CostUSD: 0 });
      expect(out.emf().filter((d) => d.UpstreamAttemptFailures === 1)).toHaveLength(2);
    });

    it('publishes no attribution document when the Feature and Team dimensions are off, and `unattributed` when a key lacks them', async () => {
      const off = harness(makeConfig({ featureDimension: false, teamDimension: false }));
      await off.call(ask());
      expect(out.emf()).toHaveLength(1);
      expect(out.emf()[0]._aws.CloudWatchMetrics).toHaveLength(1);
      expect(out.emf()[0]).not.toHaveProperty('Feature');
      expect(out.emf()[0]).not.toHaveProperty('Team');

      out.clear();
      admit = () => ({ keyId: 'key_02' });
      const teamOnly = harness(makeConfig({ featureDimension: false }));
      await teamOnly.call(ask());
      const attribution = findDoc(out.emf(), 'CostUSD', ['Service', 'Team'])!;
      expect(attribution._aws.CloudWatchMetrics[1].Dimensions).toEqual([['Service', 'Team']]);
      expect(attribution.Team).toBe('unattributed');
      expect(attribution).not.toHaveProperty('Feature');
    });

    it('takes the cost the outcome carries, else the injected function, else the list price, and omits CostUSD for an unpriced model', () => {
      const config = makeConfig({ featureDimension: false, teamDimension: false });
      const outcome = { status: 'success', httpStatus: 200, stream: false, provider: 'primary', upstreamModel: 'p-model', usageEstimated: false, totalMs: 5, attempts: 1, fallback: false, endedAt: 0 } satisfies RequestOutcome;
      createTelemetry({ config, costMicros: () => 5 }).observer.requestEnded!({ requestId: 'r', model: 'chat', attribution: ATTRIBUTION, outcome: { ...outcome, costMicros: 2_500_000 } as RequestOutcome });
      
      const priced = parseConfig({ ...config, pricing: { 'primary/p-model': { input: 2, output: 10 } } });
      const usage = { inputTokens: 1000, outputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
      createTelemetry({ config: priced }).observer.requestEnded!({ requestId: 'r', model: 'chat', attribution: ATTRIBUTION, outcome: { ...outcome, usage } });
      createTelemetry({ config }).observer.requestEnded!({ requestId: 'r', model: 'chat', attribution: ATTRIBUTION, outcome: { ...outcome, usage } });
      const [carried, listPrice, unknown] = out.emf();
      expect(carried.CostUSD).toBe(2.5);
      // 1000 x $2/M + 100 x $10/M = $0.003, from config.pricing when nothing else knows the cost.
      expect(listPrice.CostUSD).toBe(0.003);
      expect(unknown).not.toHaveProperty('CostUSD');
      expect(directive(unknown).Metrics.map((m) => m.Name)).not.toContain('CostUSD');
    });
  });

  describe('The request line', () => {
    // Gateway keys, provider keys (sk-…), bearer headers, AWS access key ids.
    const KEY_SHAPED = /\b(?:tg|sk)[-_][A-Za-z0-9_-]{8,}|Bearer\s|AKIA[0-9A-Z]{16}/;
    const UNITS = new Map<string, string>(Object.values(METRICS).map((m) => [m.name, m.unit]));
    const LOG_FIELDS = [
      'level', 'message', 'timestamp', 'service', 'sampling_rate', 'requestId', 'keyId', 'keyName', 'team', 'feature', 'customer',
      'model', 'provider', 'upstreamModel', 'status', 'httpStatus', 'stream', 'inputTokens', 'outputTokens', 'cachedTokens',
      'cacheWriteTokens', 'reasoningTokens', 'usageEstimated', 'costMicros', 'costUsd', 'latencyMs', 'attempts', 'fallback',
    ];
    const withEnv = <T>(vars: Record<string, string>, fn: () => T): T => {
      const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
      Object.assign(process.env, vars);
      try {
        return fn();
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    };
    const ended = (outcome: Partial<RequestOutcome> = {}) => ({
      requestId: 'req_1',
      model: 'chat',
      attribution: ATTRIBUTION,
      outcome: {
        status: 'success', httpStatus: 200, stream: true, provider: 'primary', upstreamModel: 'p-model', usageEstimated: false,
        usage: { inputTokens: 12, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
        ttftMs: 3, totalMs: 9, attempts: 1, fallback: false, endedAt: 0, ...outcome,
      } as RequestOutcome,
    });

    it.each([
      ['a non-streamed request', false, 1],
      ['a streamed request', true, 1],
      ['a streamed request served by the backup', true, 3],
    ])('writes only valid EMF and every log field for %s', async (_name, stream, lines) => {
      if (lines > 1) primary = { fail: new UpstreamError('primary', 'overloaded', { upstreamStatus: 529 }) };
      const h = harness(makeConfig());
      await h.call(ask(stream ? { stream: true } : {}));
      // The request's line, plus (after a failed attempt) the attempt's log line and its EMF document.
      expect(out.lines()).toHaveLength(lines);
      for (const doc of out.emf()) expectValidEmf(doc, UNITS);
      const request = out.logs().find((l) => l.message === 'request')!;
      for (const field of LOG_FIELDS) expect(request).toHaveProperty(field);
      if (stream) expect(request).toHaveProperty('ttftMs');
      // Every key that is not an EMF member is a log field, and log fields are never PascalCase.
      const members = new Set([...UNITS.keys(), 'Service', 'Model', 'Provider', 'Feature', 'Team', '_aws']);
      for (const key of Object.keys(request).filter((k) => !members.has(k))) expect(key).toMatch(/^[a-z][a-z_]*[A-Za-z]*$/);
      // The same line is the request's EMF document.
      expect(directiveFor(request as unknown as EmfDocument, 'Requests', ['Service', 'Model', 'Provider'])).toBeDefined();
      expect(request).toMatchObject({ Requests: 1, Model: request.upstreamModel, Provider: request.provider, Feature: 'autocomplete', Team: 'search' });
      const all = out.raw.join('');
      for (const secret of [CLIENT_KEY, PROVIDER_KEY, 'capital of France']) expect(all).not.toContain(secret);
      expect(all).not.toMatch(KEY_SHAPED);
    });

    it('writes valid EMF with three directives for a request that failed, and its WARN log fields', async () => {
      primary = { fail: new UpstreamError('primary', 'down', { upstreamStatus: 500 }) };
      backup = { fail: new UpstreamError('backup', 'down', { upstreamStatus: 503 }) };
      await harness(makeConfig()).call(ask({ stream: true }));
      for (const doc of out.emf()) expectValidEmf(doc, UNITS);
      const request = out.emf().find((d) => d.message === 'request')!;
      expect(request._aws.CloudWatchMetrics.map((d) => d.Dimensions)).toEqual([
        [['Service'], ['Service', 'Model', 'Provider']], [['Service', 'Feature'], ['Service', 'Team']], [['Service', 'ErrorClass']],
      ]);
      expect(request).toMatchObject({ level: 'WARN', errorClass: 'upstream', ErrorClass: 'upstream', Errors: 1, Requests: 1 });
      // No usage when every target failed: the token and usage fields are left out, as before.
      const usageFields = ['inputTokens', 'outputTokens', 'cachedTokens', 'cacheWriteTokens', 'reasoningTokens'];
      for (const field of [...LOG_FIELDS.filter((f) => !usageFields.includes(f)), 'errorCode', 'errorClass']) expect(request).toHaveProperty(field);
    });

    it('carries what Powertools Logger would write for the same fields, in its order', () => {
      const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1';
      withEnv({ _X_AMZN_TRACE_ID: trace }, () => {
        for (const outcome of [{}, { status: 'upstream_error', httpStatus: 502 }] as const) {
          out.clear();
          createTelemetry({ config: makeConfig() }).observer.requestEnded!(ended(outcome));
          const [ours] = out.lines();
          const emfKeys = new Set(['_aws', ...(ours._aws as EmfDocument['_aws']).CloudWatchMetrics.flatMap((d) => [...d.Dimensions.flat(), ...d.Metrics.map((m) => m.Name)])]);
          const logged = Object.fromEntries(Object.entries(ours).filter(([k]) => !emfKeys.has(k)));
          const { level, message, timestamp: _t, service: _s, sampling_rate: _r, xray_trace_id: _x, ...fields } = logged;
          const logger = new Logger({ serviceName: 'tollgate' });
          if (level === 'WARN') logger.warn(message as string, fields);
          else logger.info(message as string, fields);
          const theirs = out.lines().at(-1)!;
          expect(theirs.xray_trace_id).toBe('1-5759e988-bd862e3fe1be46a994272793');
          expect(Object.keys(logged)).toEqual(Object.keys(theirs));
          expect({ ...logged, timestamp: 0 }).toEqual({ ...theirs, timestamp: 0 });
        }
      });
    });

    it('still writes the metrics when the log level suppresses the info line, and the warn line when it does not', () => {
      withEnv({ POWERTOOLS_LOG_LEVEL: 'WARN' }, () => {
        const { observer } = createTelemetry({ config: makeConfig() });
        observer.requestEnded!(ended());
        expect(out.lines()).toHaveLength(1);
        const [doc] = out.emf();
        expectValidEmf(doc, UNITS);
        expect(doc).not.toHaveProperty('message');
        expect(doc).not.toHaveProperty('keyId');
        expect(doc).toMatchObject({ Requests: 1, InputTokens: 12, Model: 'p-model', Team: 'search' });

        out.clear();
        observer.requestEnded!(ended({ status: 'upstream_error', httpStatus: 502 }));
        expect(out.lines()).toHaveLength(1);
        expect(out.logs()[0]).toMatchObject({ level: 'WARN', message: 'request', ErrorClass: 'upstream' });
      });
    });

    it('writes the log line alone when metrics are disabled', () => {
      withEnv({ POWERTOOLS_METRICS_DISABLED: 'true' }, () => createTelemetry({ config: makeConfig() }).observer.requestEnded!(ended()));
      expect(out.lines()).toHaveLength(1);
      expect(out.emf()).toHaveLength(0);
      expect(out.logs()[0]).toMatchObject({ message: 'request', inputTokens: 12 });
      expect(out.logs()[0]).not.toHaveProperty('Requests');
    });

    it('leaves the line to Powertools in dev mode, pretty-printed, with metrics off as Powertools has them', () => {
      const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
      try {
        withEnv({ POWERTOOLS_DEV: 'true' }, () => createTelemetry({ config: makeConfig() }).observer.requestEnded!(ended()));
        expect(out.raw).toEqual([]);
        expect(info).toHaveBeenCalledTimes(1);
        const printed = String(info.mock.calls[0][0]);
        expect(printed).toContain('\n');
        expect(JSON.parse(printed)).toMatchObject({ level: 'INFO', message: 'request', service: 'tollgate', inputTokens: 12 });
        expect(JSON.parse(printed)).not.toHaveProperty('_aws');
      } finally {
        info.mockRestore();
      }
    });

    it('leaves the line to Powertools when TZ names another zone than UTC (its local timestamps), with the EMF on a line of its own', () => {
      withEnv({ TZ: 'Asia/Kolkata' }, () => createTelemetry({ config: makeConfig() }).observer.requestEnded!(ended()));
      expect(out.lines()).toHaveLength(2);
      const [log] = out.logs();
      expect(log).toMatchObject({ level: 'INFO', message: 'request', service: 'tollgate', inputTokens: 12 });
      expect(log).not.toHaveProperty('_aws');
      // Powertools' local-zone format (an offset), not the hand-written line's toISOString() (a Z).
      expect(String(log.timestamp)).toMatch(/[+-]\d\d:\d\d$/);
      const [doc] = out.emf();
      expectValidEmf(doc, UNITS);
      expect(doc).toMatchObject({ Service: 'tollgate', Requests: 1 });
    });

    it('lets an injected Logger write the line in its own format, with the EMF on a line of its own', () => {
      const logger = new Logger({ serviceName: 'custom', persistentKeys: { stage: 'test' } });
      createTelemetry({ config: makeConfig(), logger }).observer.requestEnded!(ended());
      expect(out.lines()).toHaveLength(2);
      expect(out.logs()).toEqual([expect.objectContaining({ message: 'request', service: 'custom', stage: 'test', inputTokens: 12 })]);
      expect(out.logs()[0]).not.toHaveProperty('_aws');
      const [doc] = out.emf();
      expectValidEmf(doc, UNITS);
      expect(doc).not.toHaveProperty('message');
      expect(doc).toMatchObject({ Service: 'tollgate', Requests: 1 });
    });

    it('logs content only when allowed, never into an EMF-only line', () => {
      const content = { prompt: 'secret plans', completion: 'noted' };
      const withContent = (attribution: Attribution) => ({ ...ended(), attribution, content });
      const { observer } = createTelemetry({ config: makeConfig() });
      observer.requestEnded!(withContent({ keyId: 'k' }));
      observer.requestEnded!(withContent({ keyId: 'k', logContent: true }));
      withEnv({ POWERTOOLS_LOG_LEVEL: 'WARN' }, () => createTelemetry({ config: makeConfig() }).observer.requestEnded!(withContent({ keyId: 'k', logContent: true })));
      const [quiet, verbose, emfOnly] = out.lines();
      expect(JSON.stringify(quiet)).not.toContain('secret plans');
      expect(verbose).toMatchObject({ prompt: 'secret plans', completion: 'noted', Requests: 1 });
      expect(emfOnly).toHaveProperty('_aws');
      expect(JSON.stringify(emfOnly)).not.toContain('secret plans');
    });
  });

  describe('Method: rejected', () => {
    it.each([
      ['a rate limit', new RateLimitError('slow down'), { Requests: 1, Errors: 0, RateLimited: 1, BudgetRejected: 0 }, undefined],
      ['an exhausted budget', new BudgetExceededError('budget spent'), { Requests: 1, Errors: 0, RateLimited: 0, BudgetRejected: 1 }, undefined],
      ['a bad key', new AuthenticationError(), { Requests: 1, Errors: 1, RateLimited: 0, BudgetRejected: 0 }, 'auth'],
      ['a client that left before its request was read', new ClientAbortedError(), { Requests: 1, Errors: 0, RateLimited: 0, BudgetRejected: 0 }, undefined],
    ])('counts %s on the aggregate set', async (_name, error, values, errorClass) => {
      const h = harness(makeConfig());
      admit = () => {
        throw error;
      };
      const res = await h.call(ask());
      expect(res.status).toBe(error.status);
      const docs = out.emf();
      const rejection = findDoc(docs, 'RateLimited', ['Service'])!;
      expect(directive(rejection)).toEqual({
        Namespace: 'TollgateTest',
        Dimensions: [['Service']],
        Metrics: ['Requests', 'Errors', 'RateLimited', 'BudgetRejected'].map((Name) => ({ Name, Unit: 'Count' })),
      });
      expect(rejection).toMatchObject(values);
      expect(findDoc(docs, 'Errors', ['Service', 'ErrorClass'])?.ErrorClass).toBe(errorClass);
      expect(out.logs().find((l) => l.message === 'request rejected')).toMatchObject({ httpStatus: error.status, errorCode: error.code });
    });

    it('counts a gatekeeper crash as an internal error', async () => {
      const h = harness(makeConfig());
      admit = () => {
        throw new Error(`DynamoDB said no to ${PROVIDER_KEY}`);
      };
      expect((await h.call(ask())).status).toBe(500);
      expect(findDoc(out.emf(), 'Errors', ['Service', 'ErrorClass'])).toMatchObject({ ErrorClass: 'internal', Errors: 1 });
      expect(out.logs().find((l) => l.message === 'internal error')).toMatchObject({ level: 'ERROR' });
    });
  });

  describe('Secrets and content', () => {
    it('never writes the client key, the provider key or the prompt text to stdout', async () => {
      primary = { fail: new UpstreamError('primary', `Incorrect API key provided: ${PROVIDER_KEY}`, { upstreamStatus: 401 }) };
      const h = harness(makeConfig());
      await h.call(ask());
      await h.call(ask({ stream: true }));
      admit = () => {
        throw new Error(`boom Authorization: Bearer ${CLIENT_KEY}`);
      };
      await h.call(ask());
      const all = out.raw.join('');
      expect(all).toContain('upstream attempt failed');
      expect(all).toContain('[redacted-key]');
      for (const secret of [CLIENT_KEY, PROVIDER_KEY, 'CLIENTSECRET', 'PROVIDERSECRET', 'capital of France']) expect(all).not.toContain(secret);
    });

    it('logs prompt and completion only when the attribution opts in and the event carries them', () => {
      const config = makeConfig({ featureDimension: false, teamDimension: false });
      const { observer } = createTelemetry({ config });
      const outcome = { status: 'success', httpStatus: 200, stream: false, usageEstimated: false, totalMs: 5, attempts: 1, fallback: false, endedAt: 0 } satisfies RequestOutcome;
      const content = { prompt: 'secret plans', completion: 'noted' };
      observer.requestEnded!({ requestId: 'r1', model: 'chat', attribution: { keyId: 'k' }, outcome, content } as Parameters<NonNullable<typeof observer.requestEnded>>[0]);
      observer.requestEnded!({ requestId: 'r2', model: 'chat', attribution: { keyId: 'k', logContent: true }, outcome, content } as Parameters<NonNullable<typeof observer.requestEnded>>[0]);
      const [r1, r2] = out.logs().filter((l) => l.message === 'request');
      expect(r1).not.toHaveProperty('prompt');
      expect(r2).toMatchObject({ prompt: 'secret plans', completion: 'noted' });
    });
  });

  describe('Method: flush', () => {
    it('publishes metrics still buffered on the instance and writes nothing when the buffer is empty', () => {
      const metrics = new Metrics({ namespace: 'TollgateTest' });
      const telemetry = createTelemetry({ config: makeConfig(), metrics });
      telemetry.flush();
      expect(out.raw).toHaveLength(0);
      metrics.addMetric(METRICS.requests.name, METRICS.requests.unit, 1);
      telemetry.flush();
      const [doc] = out.emf();
      expect(directive(doc).Dimensions).toEqual([['Service']]);
      expect(doc).toMatchObject({ Service: 'tollgate', Requests: 1 });
    });
  });

  describe('Method: budgetUtilization', () => {
    it('publishes watched budgets only, under the Budget dimension', () => {
      const telemetry = createTelemetry({ config: makeConfig() });
      telemetry.budgetUtilization('team:search:month', 42.5);
      telemetry.budgetUtilization('team:other:month', 99);
      const docs = out.emf();
      expect(docs).toHaveLength(1);
      expect(directive(docs[0])).toEqual({ Namespace: 'TollgateTest', Dimensions: [['Service', 'Budget']], Metrics: [{ Name: 'BudgetUtilization', Unit: 'Percent' }] });
      expect(docs[0]).toMatchObject({ Budget: 'team:search:month', BudgetUtilization: 42.5 });
    });
  });

  it('never throws into the request path when pricing fails', async () => {
    const h = harness(makeConfig(), {
      costMicros: () => {
        throw new Error('price table missing');
      },
    });
    const res = await h.call(ask());
    expect(res.status).toBe(200);
    expect(out.logs().find((l) => l.message === 'telemetry hook failed')).toMatchObject({ hook: 'requestEnded' });
  });
});
