import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, type TollgateConfig } from './core/config';

/** The repo's example config, used when TOLLGATE_CONFIG is not set. */
export const DEFAULT_CONFIG_PATH = resolve(__dirname, '..', 'tollgate.config.json');

/** Read and validate a config file (local server and CDK app; Lambda gets the config baked in). */
export function loadConfigFile(path: string = DEFAULT_CONFIG_PATH): TollgateConfig {
  const text = readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`Config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(json);
}
