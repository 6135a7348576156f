/**
 * From request headers and a key record to an authenticated, attributed request (no I/O).
 *
 * Attribution rules:
 *  - feature: `x-tollgate-feature` header, else `metadata.feature`, else the key's defaultFeature.
 *    A named feature must be in the key's allowedFeatures when that list is non-empty (else 403
 *    feature_not_allowed); the default feature is always allowed.
 *  - customer: `x-tollgate-customer` header, else `metadata.customer`, else (only for keys with
 *    allowCustomerOverride) the request's `user`, else the key's customer. Naming a customer other than
 *    the key's own needs allowCustomerOverride (else 403 customer_override_not_allowed). `user` is never an
 *    error: keys without the override ignore it, and a `user` that is not a valid id is ignored too.
 *  - A malformed header or metadata value (not 1-128 of letters, digits, `. _ @ + / -`) is a 400.
 */
import { AuthenticationError, BadRequestError, PermissionDeniedError } from '../core/errors';
import type { AdmissionRequest, Attribution } from '../core/gatekeeper';
import { ATTRIBUTION_ID } from '../core/metering';
import type { ApiKeyRecord } from './key-store';

export const FEATURE_HEADER = 'x-tollgate-feature';
export const CUSTOMER_HEADER = 'x-tollgate-customer';

/** `Authorization: Bearer <key>` or `x-api-key: <key>`; throws 401 when neither is present. */
export function extractApiKey(headers: Headers): string {
  const auth = headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const apiKey = headers.get('x-api-key')?.trim();
  if (apiKey) return apiKey;
  throw new AuthenticationError(
    'You did not provide an API key. Send it as `Authorization: Bearer <key>` (or `x-api-key: <key>`).',
    { code: 'missing_api_key' },
  );
}

/** 401 for unknown, revoked and expired keys; 403 when the key may not use the model (when one is given). */
export function checkKey(key: ApiKeyRecord | undefined, model: string | undefined, nowMs: number): ApiKeyRecord {
  if (!key) throw new AuthenticationError('Incorrect API key provided.');
  if (key.status !== 'active') throw new AuthenticationError('This API key has been revoked.', { code: 'api_key_revoked' });
  if (key.expiresAt !== undefined && key.expiresAt <= nowMs) throw new AuthenticationError('This API key has expired.', { code: 'api_key_expired' });
  if (model !== undefined && key.allowedModels.length > 0 && !key.allowedModels.includes(model)) {
    throw new PermissionDeniedError(`This API key is not allowed to use the model '${model}'.`, { param: 'model', code: 'model_not_allowed' });
  }
  return key;
}

function named(value: string | null | undefined, param: string, what: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!ATTRIBUTION_ID.test(value)) {
    throw new BadRequestError(`Invalid ${what} '${value.slice(0, 64)}': use 1-128 letters, digits and . _ @ + / -.`, {
      param,
      code: `invalid_${what}`,
    });
  }
  return value;
}

export function attribute(key: ApiKeyRecord, req: Pick<AdmissionRequest, 'headers' | 'request'>): Attribution {
  const metadata = req.request.metadata ?? {};

  const namedFeature =
    named(req.headers.get(FEATURE_HEADER), FEATURE_HEADER, 'feature') ?? named(metadata.feature, 'metadata.feature', 'feature');
  if (namedFeature !== undefined && namedFeature !== key.defaultFeature && key.allowedFeatures.length > 0 && !key.allowedFeatures.includes(namedFeature)) {
    throw new PermissionDeniedError(`This API key may not attribute requests to the feature '${namedFeature}'.`, {
      param: 'feature',
      code: 'feature_not_allowed',
    });
  }

  let customer =
    named(req.headers.get(CUSTOMER_HEADER), CUSTOMER_HEADER, 'customer') ?? named(metadata.customer, 'metadata.customer', 'customer');
  if (customer !== undefined && customer !== key.customer && !key.allowCustomerOverride) {
    throw new PermissionDeniedError(`This API key may not attribute requests to another customer ('${customer}').`, {
      param: 'customer',
      code: 'customer_override_not_allowed',
    });
  }
  if (customer === undefined && key.allowCustomerOverride && req.request.user && ATTRIBUTION_ID.test(req.request.user)) {
    customer = req.request.user;
  }

  return {
    keyId: key.keyId,
    keyName: key.name,
    team: key.team,
    customer: customer ?? key.customer,
    environment: key.environment,
    feature: namedFeature ?? key.defaultFeature,
    logContent: key.logContent,
  };
}
