/**
 * `npm start`: the gateway on http://127.0.0.1:${PORT:-8787}/v1 with only Node installed. The config comes
 * from the file named by TOLLGATE_CONFIG (default: the repo's tollgate.config.json), provider keys from the
 * environment variables it names, keys and usage from the embedded store in TOLLGATE_DATA_DIR (default
 * `.tollgate-data/` in the repo), so they survive a restart. The only place that reads process.env locally.
 */
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config-loader';
import { ConfigError } from '../core/config';
import { startLocalGateway } from './gateway';

const DEFAULT_DATA_DIR = resolve(__dirname, '..', '..', '.tollgate-data');

async function main(): Promise<void> {
  const env = process.env;
  // EMF metric lines only mean something to CloudWatch; locally they are noise unless asked for.
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const configPath = env.TOLLGATE_CONFIG ? resolve(env.TOLLGATE_CONFIG) : DEFAULT_CONFIG_PATH;
  const config = loadConfigFile(configPath);
  const port = env.PORT ? Number(env.PORT) : 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number, got '${env.PORT}'`);
  const dataDir = resolve(env.TOLLGATE_DATA_DIR ?? DEFAULT_DATA_DIR);
  const sweepSeconds = seconds(env, 'TOLLGATE_SWEEP_INTERVAL_SECONDS', 60);
  const graceSeconds = seconds(env, 'TOLLGATE_SHUTDOWN_GRACE_SECONDS', 30);
  const forecastSeconds = seconds(env, 'TOLLGATE_FORECAST_INTERVAL_SECONDS', 3_600);
  const gateway = await startLocalGateway({
    config,
    dataDir,
    host: env.HOST ?? '127.0.0.1',
    // Extra names the Host header may carry (comma-separated; `*` for any): e.g. a name in /etc/hosts.
    allowedHosts: env.TOLLGATE_ALLOWED_HOSTS?.split(',').map((h) => h.trim()).filter(Boolean),
    port,
    env,
    telemetry: env.TOLLGATE_LOGS === 'off' ? false : undefined,
    sweepIntervalMs: sweepSeconds * 1_000,
    shutdownGraceMs: graceSeconds * 1_000,
    forecastIntervalMs: forecastSeconds * 1_000,
  });

  const keys = await gateway.runtime.gatekeeper.keys.list({ includeRevoked: false });
  const missing = Object.entries(config.providers)
    .filter(([, p]) => p.kind !== 'bedrock' && p.apiKey && !env[p.apiKey.env])
    .map(([id, p]) => `${id} (${p.kind !== 'bedrock' && p.apiKey ? p.apiKey.env : ''})`);
  const lines = [
    `Tollgate listening on ${gateway.url}`,
    `  config:  ${configPath}`,
    `  data:    ${dataDir}`,
    `  models:  ${Object.keys(config.models).join(', ')}`,
    missing.length ? `  no key in the environment for: ${missing.join(', ')} (their targets fall back)` : '',
    keys.length === 0
      ? [
          '',
          'No gateway keys yet. Create one (in another terminal, while this server runs):',
          '  npx tollgate keys create --name dev',
          'then point any OpenAI client at it:',
          `  OPENAI_BASE_URL=${gateway.url} OPENAI_API_KEY=<the tg_ key> your-app`,
        ].join('\n')
      : `  keys:    ${keys.length} active`,
  ].filter(Boolean);
  process.stderr.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: no new requests; finishing in-flight ones (up to ${graceSeconds} s), settling them, then closing the store...\n`);
    await gateway.close();
    process.stderr.write('stopped\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number of seconds (0 or more), got '${raw}'`);
  return value;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
