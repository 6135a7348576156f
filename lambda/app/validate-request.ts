import type { z } from 'zod';
import { BadRequestError } from '../core/errors';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from '../core/openai-schema';

/** Validate a parsed body; the first problem becomes a 400 naming the offending parameter. */
export function validateChatRequest(body: unknown): ChatCompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('The request body must be a JSON object.', { code: 'invalid_type' });
  }
  const result = chatCompletionRequestSchema.safeParse(body);
  if (result.success) return result.data;
  throw toBadRequest(result.error.issues[0]);
}

function toBadRequest(issue: z.core.$ZodIssue): BadRequestError {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    const where = issue.path.length ? ` in ${formatPath(issue.path)}` : '';
    return new BadRequestError(`Unrecognized request argument supplied${where}: ${keys}`, {
      param: issue.path.length ? formatPath([...issue.path, issue.keys[0]]) : issue.keys[0],
      code: 'unknown_parameter',
    });
  }
  const param = formatPath(issue.path);
  const missing = issue.code === 'invalid_type' && issue.message.includes('received undefined');
  if (missing) {
    return new BadRequestError(`Missing required parameter: '${param}'.`, { param, code: 'missing_required_parameter' });
  }
  return new BadRequestError(`Invalid value for '${param}': ${issue.message}.`, { param, code: 'invalid_value' });
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}
