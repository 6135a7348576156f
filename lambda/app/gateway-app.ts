/**
 * The whole gateway as one `fetch(Request) → Response` function (the hono pattern): the local server and
 * the Lambda handler are thin adapters around it, so the same request handling runs in both.
 */
import type { TollgateConfig } from '../core/config';
import { GatewayError, MethodNotAllowedError, NotFoundError, toGatewayError } from '../core/errors';
import type { Admission, Gatekeeper } from '../core/gatekeeper';
import type { ModelList } from '../core/openai-schema';
import { chooseArm } from '../core/experiments';
import { outputCap } from '../core/output-cap';
import type { ChatCompletionRequest } from '../core/openai-schema';
import { requestEvidence } from '../core/request-evidence';
import { resolveModel, type ResolvedModel } from '../core/routing';
import { CUSTOMER_HEADER } from '../store/key-auth';
import type { ProviderAdapter } from '../providers/types';
import { handleChatCompletion } from './chat-completions';
import { errorResponse, jsonResponse, parseJsonBody, readBodyText } from './http';
import type { RequestObserver } from './observer';
import type { ProviderKeySource } from './provider-keys';
import { validateChatRequest } from './validate-request';

export interface GatewayDeps {
  config: TollgateConfig;
  adapters: ReadonlyMap<string, ProviderAdapter>;
  providerKeys: ProviderKeySource;
  gatekeeper: Gatekeeper;
  observer?: RequestObserver;
  now?: () => number;
  random?: () => number;
  newRequestId?: () => string;
}

export interface RequestContext {
  /** Work that must finish before the runtime may freeze (settlement, usage writes), off the client's path. */
  waitUntil(promise: Promise<unknown>): void;
}

export interface GatewayApp {
  fetch(request: Request, ctx: RequestContext): Promise<Response>;
}

const CHAT_PATH = '/v1/chat/completions';
const MODELS_PATH = '/v1/models';

export function createGatewayApp(deps: GatewayDeps): GatewayApp {
  const now = deps.now ?? Date.now;
  const newRequestId = deps.newRequestId ?? (() => `req_${crypto.randomUUID().replace(/-/g, '')}`);

  return {
    async fetch(request, ctx) {
      const requestId = newRequestId();
      const base = { 'x-tollgate-request-id': requestId };
      const path = normalisePath(new URL(request.url).pathname);
      const seen: { model?: string } = {};
      try {
        if (path === CHAT_PATH) {
          if (request.method !== 'POST') throw new MethodNotAllowedError(request.method, path);
          return await chat(request, ctx, requestId, base, seen);
        }
        if (path === MODELS_PATH) {
          if (request.method !== 'GET') throw new MethodNotAllowedError(request.method, path);
          await deps.gatekeeper.authenticate?.(request.headers, now());
          return jsonResponse(200, listModels(deps.config), base);
        }
        throw new NotFoundError(`Unknown path ${path}. Tollgate serves POST ${CHAT_PATH} and GET ${MODELS_PATH}.`, {
          code: 'unknown_url',
        });
      } catch (err) {
        const error = toGatewayError(err);
        // Every request answered before routing is counted once: client errors (400/401/403/404/413/429)
        // as rejections, anything else as an internal error.
        if (err instanceof GatewayError && error.status < 500) deps.observer?.rejected?.({ requestId, model: seen.model ?? '-', error });
        else deps.observer?.internalError?.(requestId, err);
        return errorResponse(error, base);
      }
    },
  };

  async function chat(
    request: Request,
    ctx: RequestContext,
    requestId: string,
    base: Record<string, string>,
    seen: { model?: string },
  ): Promise<Response> {
    const startedAt = now();
    await deps.gatekeeper.authenticate?.(request.headers, startedAt);
    const body = validateChatRequest(parseJsonBody(await readBodyText(request, deps.config.server.maxBodyBytes)));
    seen.model = body.model;
    const model = withArm(resolveModel(deps.config, body.model), requestId, request.headers, body);
    const admission: Admission = await deps.gatekeeper.admit({
      evidence: { ...requestEvidence(body, outputCap(body, model.config, model.config.targets[0]).perChoice), ...(model.arm ? { arm: model.arm } : {}) },
      requestId,
      headers: request.headers,
      request: body,
      model: model.name,
      modelConfig: model.config,
      targets: model.config.targets,
      now: startedAt,
    });
    return handleChatCompletion({
      deps,
      ctx,
      requestId,
      startedAt,
      body,
      model,
      admission,
      signal: request.signal,
      baseHeaders: { ...base, ...admission.headers },
      now,
    });
  }
}

/**
 * An alias running an experiment routes this request to one arm's targets (reserved, priced and recorded as
 * such). Sticky experiments key on the customer the request names (header, metadata, user) when it names
 * one; a key's own customer is not known before admission, so those requests are drawn per request.
 */
function withArm(model: ResolvedModel, requestId: string, headers: Headers, body: ChatCompletionRequest): ResolvedModel & { arm?: string } {
  const customer = headers.get(CUSTOMER_HEADER) ?? body.metadata?.customer ?? body.user ?? undefined;
  const choice = chooseArm(model.name, model.config, { requestId, customer });
  return choice ? { ...model, arm: choice.arm, config: { ...model.config, targets: [...choice.targets] } } : model;
}

function normalisePath(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

function listModels(config: TollgateConfig): ModelList {
  return {
    object: 'list',
    data: Object.entries(config.models).map(([id, m]) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: m.targets[0].provider,
    })),
  };
}
