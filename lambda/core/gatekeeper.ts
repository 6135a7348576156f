/**
 * The one place in the request path, before routing, where authentication, attribution, rate limits
 * and budget reservations plug in. The app calls `admit` once per request (after validation, before any
 * upstream call) and `settle` exactly once when the request has ended, whatever way it ended.
 */
import type { ModelConfig, TargetConfig } from './config';
import type { RequestEvidence } from './request-evidence';
import type { TokenUsage } from './usage';

export interface Attribution {
  /** Stable, non-secret key id (never the key or its hash). */
  keyId: string;
  keyName?: string;
  team?: string;
  customer?: string;
  environment?: string;
  feature?: string;
  /** The key allows prompt/response content in logs (off unless the key's owner turned it on). */
  logContent?: boolean;
}

/**
 * What admission needs to know of a request's size, whatever its API surface: each surface computes it
 * from its own body (chat: messages + tools, max_tokens, n; Messages: system + messages + tools, max_tokens).
 */
export interface RequestEstimate {
  /** Input tokens as the estimator counts them (unpadded: admission adds its own safety margin). */
  inputTokens: number;
  /** The output cap the client asked for; undefined when it sent none (the model's ceiling applies). */
  maxOutputTokens?: number;
  /** Choices generated (OpenAI's `n`); 1 for surfaces without it. */
  n: number;
}

/** Body fields attribution reads (`metadata.feature`, `metadata.customer`, the end-user id), any surface. */
export interface AttributionHints {
  metadata?: Readonly<Record<string, string>> | null;
  user?: string | null;
}

export interface AdmissionRequest {
  requestId: string;
  headers: Headers;
  request: AttributionHints;
  estimate: RequestEstimate;
  /** The model name the client sent (alias or provider/model). */
  model: string;
  /** Streamed response (kept on the lease index entry, so a `lost` record says how it was asked for). */
  stream?: boolean;
  modelConfig: ModelConfig;
  /** Ordered targets the router may try; worst-case cost is priced over all of them. */
  targets: ReadonlyArray<TargetConfig>;
  now: number;
  /** Kept on the usage record for `tollgate insights` (output cap, prompt prefix, experiment arm). */
  evidence?: RequestEvidence;
}

export type OutcomeStatus = 'success' | 'upstream_error' | 'client_abort' | 'stream_error';

export interface RequestOutcome {
  status: OutcomeStatus;
  httpStatus: number;
  stream: boolean;
  /** The target that served (or last failed). */
  provider?: string;
  upstreamModel?: string;
  /** Usage as the upstream reported it, or an estimate (then `usageEstimated`). Undefined: nothing was generated. */
  usage?: TokenUsage;
  usageEstimated: boolean;
  ttftMs?: number;
  totalMs: number;
  attempts: number;
  fallback: boolean;
  errorCode?: string;
  endedAt: number;
}

export interface Admission {
  attribution: Attribution;
  /** Response headers to add (e.g. `x-ratelimit-*`). */
  headers: Record<string, string>;
  /**
   * Bookkeeping that must be durable before the client sees a byte but need not delay the upstream call
   * (the request's lease index entry): the pipeline starts the upstream call at once and awaits this before
   * answering. Never rejects.
   */
  ready?: Promise<void>;
  /** Settle reservations and record usage. Called exactly once; must not throw into the response. */
  settle(outcome: RequestOutcome): Promise<void>;
  /**
   * What `usage` on `provider`/`upstreamModel` costs in micro-dollars, priced exactly as settlement will
   * price it (so the `usage.cost` a client sees is what it was charged); undefined when the model is unpriced.
   */
  price?(usage: TokenUsage, provider: string, upstreamModel: string): number | undefined;
}

export interface Gatekeeper {
  /**
   * Checks the credentials alone (401 when missing, unknown, revoked or expired), before the body is read:
   * an unauthenticated caller learns nothing about the request's validity and costs no parsing.
   */
  authenticate?(headers: Headers, now: number): Promise<void>;
  /** Throws a GatewayError (401, 403, 429) to reject; nothing is charged for a rejected request. */
  admit(req: AdmissionRequest): Promise<Admission>;
}

/** Open gate for local experiments and tests of the routing layer: no auth, nothing metered. */
export const openGatekeeper: Gatekeeper = {
  async admit() {
    return { attribution: { keyId: 'anonymous' }, headers: {}, settle: async () => undefined };
  },
};
