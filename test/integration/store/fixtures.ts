/** Shared builders for the gatekeeper integration tests. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig, type TollgateConfig } from '../../../lambda/core/config';
import type { AdmissionRequest, RequestOutcome } from '../../../lambda/core/gatekeeper';
import { requestedMaxTokens, type ChatCompletionRequest } from '../../../lambda/core/openai-schema';
import { estimateInputTokens } from '../../../lambda/core/token-estimate';
import type { TokenUsage } from '../../../lambda/core/usage';
import { createDynamoGatekeeper, type DynamoGatekeeper, type DynamoGatekeeperOptions } from '../../../lambda/store/dynamo-gatekeeper';
import { KeyStore } from '../../../lambda/store/key-store';
import { createTestTables, deleteTestTables, testDynamoClient, type TestTables } from '../../support/dynamodb-local';

/** 2026-11-25T10:30:15Z */
export const T0 = Date.UTC(2026, 10, 25, 10, 30, 15);

export function testConfig(overrides: Record<string, unknown> = {}): TollgateConfig {
  return parseConfig({
    providers: {
      openai: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' },
      bedrock: { kind: 'bedrock', region: 'us-east-1' },
      mystery: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' },
    },
    models: {
      'gpt-4o-mini': {
        maxOutputTokens: 1000,
        targets: [
          { provider: 'openai', model: 'gpt-4o-mini' },
          { provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
        ],
      },
      unpriced: { targets: [{ provider: 'mystery', model: 'm-1' }] },
    },
    // The ledger tests' hand-computed amounts use Haiku 4.5's list price (the catalog bills the regional
    // profile 10% above it); config.pricing wins over the catalog.
    pricing: { 'bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 } },
    metering: { keyCacheSeconds: 30, globalBudgetShards: 4 },
    ...overrides,
  });
}

export function chatRequest(overrides: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: 100, ...overrides };
}

let seq = 0;

export function admission(
  config: TollgateConfig,
  apiKey: string | undefined,
  opts: { now?: number; model?: string; headers?: Record<string, string>; request?: Partial<ChatCompletionRequest>; requestId?: string } = {},
): AdmissionRequest {
  const model = opts.model ?? 'gpt-4o-mini';
  const headers = new Headers(opts.headers);
  if (apiKey) headers.set('authorization', `Bearer ${apiKey}`);
  const modelConfig = config.models[model];
  const request = chatRequest({ model, ...opts.request });
  return {
    requestId: opts.requestId ?? `req_${(seq++).toString(36)}_${Math.random().toString(36).slice(2, 10)}`,
    headers,
    request,
    estimate: { inputTokens: estimateInputTokens(request), maxOutputTokens: requestedMaxTokens(request), n: request.n ?? 1 },
    model,
    modelConfig,
    targets: modelConfig.targets,
    now: opts.now ?? T0,
  };
}

export function usage(inputTokens: number, outputTokens: number, extra: Partial<TokenUsage> = {}): TokenUsage {
  return { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...extra };
}

export function success(u: TokenUsage | undefined, endedAt = T0 + 1_000): RequestOutcome {
  return {
    status: 'success',
    httpStatus: 200,
    stream: false,
    provider: 'openai',
    upstreamModel: 'gpt-4o-mini',
    usage: u,
    usageEstimated: false,
    ttftMs: 120,
    totalMs: 900,
    attempts: 1,
    fallback: false,
    endedAt,
  };
}

export function failure(status: RequestOutcome['status'], endedAt = T0 + 500): RequestOutcome {
  return {
    status,
    httpStatus: status === 'client_abort' ? 499 : 502,
    stream: status === 'stream_error',
    provider: status === 'upstream_error' ? undefined : 'openai',
    upstreamModel: status === 'upstream_error' ? undefined : 'gpt-4o-mini',
    usage: undefined,
    usageEstimated: false,
    totalMs: 500,
    attempts: 2,
    fallback: false,
    errorCode: 'upstream_502',
    endedAt,
  };
}

/** A fixed input estimate makes worst-case costs exact in assertions. */
export const fixedEstimate = (tokens: number) => () => tokens;

export interface GatekeeperFixture {
  client: DynamoDBClient;
  tables: TestTables;
  keys: KeyStore;
  gate: DynamoGatekeeper;
}

/**
 * Fresh tables named after `prefix`, a key store and a gatekeeper over them with the clock at T0 and a fixed
 * input estimate of `estimate` tokens; `gate` overrides or adds gatekeeper options. Opens a new client unless
 * one is given. Release with closeGatekeeperFixture.
 */
export async function openGatekeeperFixture(
  prefix: string,
  opts: { estimate: number; config: TollgateConfig; client?: DynamoDBClient; gate?: Partial<DynamoGatekeeperOptions> },
): Promise<GatekeeperFixture> {
  const client = opts.client ?? testDynamoClient();
  const tables = await createTestTables(client, prefix);
  const keys = new KeyStore({ client, table: tables.keys });
  const gate = createDynamoGatekeeper({
    client,
    tables,
    config: opts.config,
    now: () => T0,
    estimateInputTokens: fixedEstimate(opts.estimate),
    ...opts.gate,
  });
  return { client, tables, keys, gate };
}

/** Deletes the fixture's tables and destroys its client. */
export async function closeGatekeeperFixture(f: Pick<GatekeeperFixture, 'client' | 'tables'>): Promise<void> {
  await deleteTestTables(f.client, f.tables);
  f.client.destroy();
}

/** The write lands in DynamoDB, but the caller sees an error (lost response / socket reset after the write). */
/**
 * Fails the next `times` UpdateItems whose expression `match`es, before they are sent (as after the client's
 * own retries ran out on throttling): the write never lands. `restore` removes the fault.
 */
export function failUpdates(c: DynamoDBClient, match: (expr: string) => boolean, times: number): { failed: () => number; restore: () => void } {
  const name = `fail${Math.random()}`;
  let failed = 0;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const expr = String((args.input as { UpdateExpression?: string }).UpdateExpression ?? '');
      if (context.commandName === 'UpdateItemCommand' && match(expr) && failed < times) {
        failed++;
        throw Object.assign(new Error('injected: throttled'), { name: 'ProvisionedThroughputExceededException', $fault: 'client' });
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { failed: () => failed, restore: () => c.middlewareStack.remove(name) };
}

export function loseResponses(c: DynamoDBClient, match: (expr: string) => boolean): () => void {
  const name = `lose${Math.random()}`;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const expr = String((args.input as { UpdateExpression?: string }).UpdateExpression ?? '');
      const out = await next(args);
      if (context.commandName === 'UpdateItemCommand' && match(expr)) throw Object.assign(new Error('injected: response lost after the write landed'), { name: 'TimeoutError' });
      return out;
    },
    { step: 'initialize', name },
  );
  return () => c.middlewareStack.remove(name);
}
