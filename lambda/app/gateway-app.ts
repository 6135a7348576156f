/**
 * The whole gateway as one `fetch(Request) → Response` function (the hono pattern): the local server and
 * the Lambda handler are thin adapters around it, so the same request handling runs in both.
 */
import type { TollgateConfig } from '../core/config';
import { GatewayError, MethodNotAllowedError, NotFoundError, toGatewayError } from '../core/errors';
import { modelMode } from '../core/model-mode';
import type { Gatekeeper } from '../core/gatekeeper';
import type { ProviderAdapter } from '../providers/types';
import { jsonResponse, requireJsonContentType } from './http';
import type { RequestObserver } from './observer';
import type { Route } from './pipeline';
import type { ProviderKeySource } from './provider-keys';
import { ROUTES } from './surfaces';

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

/**
 * What the app reads of a request. A fetch `Request` is one (the Lambda handler builds one); the local
 * server passes a lighter object over Node's IncomingMessage, without an undici Request and a web stream
 * per request (they were a quarter of the time from a request's arrival to its upstream call).
 */
export interface GatewayRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly signal: AbortSignal;
  readonly body: ReadableStream<Uint8Array> | null;
  /** The body's bytes as Node delivers them; read instead of `body` when present. */
  readonly chunks?: AsyncIterable<Uint8Array>;
  /** The whole body as text, when the transport already holds it (Lambda's event); read before the others. */
  readonly bodyText?: string;
}

export interface GatewayApp {
  fetch(request: GatewayRequest, ctx: RequestContext): Promise<Response>;
}

const MODELS_PATH = '/v1/models';

export function createGatewayApp(deps: GatewayDeps): GatewayApp {
  const now = deps.now ?? Date.now;
  const newRequestId = deps.newRequestId ?? (() => `req_${crypto.randomUUID().replace(/-/g, '')}`);
  const routes = new Map<string, Route>();
  for (const route of ROUTES) for (const path of route.paths) routes.set(path, route);
  const served = [...routes.keys()].map((p) => `POST ${p}`).join(', ');

  return {
    async fetch(request, ctx) {
      const requestId = newRequestId();
      const base = { 'x-tollgate-request-id': requestId };
      const path = normalisePath(new URL(request.url).pathname);
      const seen: { model?: string } = {};
      const route = routes.get(path);
      try {
        if (route) {
          if (request.method !== 'POST') throw new MethodNotAllowedError(request.method, path);
          requireJsonContentType(request.headers);
          return await route.handle(request, { deps, ctx, requestId, baseHeaders: base, now, seen });
        }
        if (path === MODELS_PATH) {
          if (request.method !== 'GET') throw new MethodNotAllowedError(request.method, path);
          await deps.gatekeeper.authenticate?.(request.headers, now());
          return jsonResponse(200, listModels(deps.config), base);
        }
        throw new NotFoundError(`Unknown path ${path}. Tollgate serves ${served} and GET ${MODELS_PATH}.`, {
          code: 'unknown_url',
        });
      } catch (err) {
        const error = toGatewayError(err);
        // Every request answered before routing is counted once: client errors (400/401/403/404/413/429)
        // as rejections, anything else as an internal error.
        if (err instanceof GatewayError && error.status < 500) deps.observer?.rejected?.({ requestId, model: seen.model ?? '-', error });
        else deps.observer?.internalError?.(requestId, err);
        // Each surface answers in its own API's error shape; other paths in OpenAI's.
        return jsonResponse(error.status, route ? route.errorBody(error) : error.toBody(), { ...base, ...error.headers });
      }
    },
  };
}

function normalisePath(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

/** OpenAI's model object, plus Tollgate's `surfaces`. */
interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /**
   * The API surfaces (`chat.completions`, `messages`, `responses`, or `embeddings`) that serve it: those of
   * its mode (core/model-mode.ts: an embeddings model is never offered as chat, nor a chat model as
   * embeddings) that can reach at least one of its targets.
   */
  surfaces: string[];
}

function listModels(config: TollgateConfig): { object: 'list'; data: ModelEntry[] } {
  return {
    object: 'list',
    data: Object.entries(config.models).map(([id, m]) => {
      const kinds = new Set(m.targets.map((t) => (Object.hasOwn(config.providers, t.provider) ? config.providers[t.provider].kind : undefined)));
      const mode = modelMode(m);
      return {
        id,
        object: 'model',
        created: 0,
        owned_by: m.targets[0].provider,
        surfaces: ROUTES.filter((r) => r.mode === mode && (r.kinds === 'any' || r.kinds?.some((k) => kinds.has(k)))).map((r) => r.name),
      };
    }),
  };
}
