/**
 * Whether an alias is a chat model (served by chat completions, Messages and Responses) or an embeddings
 * model (served by /v1/embeddings only). A client must not be offered, or routed, one as the other: a chat
 * request to an embedding model would fail upstream after admission, and GET /v1/models would list it where
 * it cannot answer. The alias's `mode` says so; without it, an alias whose every target is an embedding
 * model by name (`text-embedding-3-small`, `amazon.titan-embed-text-v2:0`, `cohere.embed-*`,
 * `mistral-embed`, `gemini-embedding-001`) is one.
 */
import type { ModelConfig } from './config';

export type ModelMode = 'chat' | 'embeddings';

const EMBEDDING_MODEL = /embed/i;

export function modelMode(model: Pick<ModelConfig, 'mode' | 'targets'>): ModelMode {
  if (model.mode) return model.mode;
  return model.targets.every((t) => EMBEDDING_MODEL.test(t.model)) ? 'embeddings' : 'chat';
}
