/**
 * What a model name may be: the client's `model` (an alias or `provider/model`) and every configured
 * upstream model id. Checked before anything is written, because the name becomes part of DynamoDB keys
 * (the model rollup's sort key, limited to 1,024 bytes) and metric dimensions: a 1,000-byte name, or one
 * with the key delimiter `#`, gets a 400, never a broken record. Long enough for every real id: Bedrock
 * inference-profile ARNs, `accounts/fireworks/models/...`, `@cf/meta/...`, Ollama `llama3:8b-instruct-q4_K_M`.
 */
import * as z from 'zod';

export const MODEL_NAME_MAX_LENGTH = 256;
const MODEL_NAME_PATTERN = /^[A-Za-z0-9@][A-Za-z0-9._:/@+=~-]*$/;

export const modelNameSchema = z
  .string()
  .min(1)
  .max(MODEL_NAME_MAX_LENGTH, `model names are at most ${MODEL_NAME_MAX_LENGTH} characters`)
  .regex(MODEL_NAME_PATTERN, 'model names are letters, digits and . _ : / @ + = ~ - (starting with a letter, digit or @)');

export function isValidModelName(name: string): boolean {
  return name.length <= MODEL_NAME_MAX_LENGTH && MODEL_NAME_PATTERN.test(name);
}
