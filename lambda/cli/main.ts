/**
 * The admin CLI (`npx tollgate ...`): keys, rate limits, budgets and usage, straight against the store's
 * tables with the operator's own credentials, so no admin HTTP endpoint exists for a gateway key to reach.
 * Never imported by lambda/handlers: it stays out of the Lambda bundle.
 *
 * Exit codes: 0 ok, 1 failure (not found, AWS or store error), 2 bad usage.
 */
import { ZodError } from 'zod';
import { loadConfigFile } from '../config-loader';
import { parseConfig } from '../core/config';
import { KeyNotFoundError } from '../store/key-store';
import { NotFound, UsageError } from './args';
import { TARGET_HELP, type AdminSettings, type CliEnvironment, type Command } from './command';
import { budgetsList, budgetsRemove, budgetsSet } from './commands/budgets';
import { keysCreate, keysList, keysRevoke, keysShow, keysUpdate } from './commands/keys';
import { limitsClear, limitsList, limitsSet } from './commands/limits';
import { exportCommand } from './commands/export';
import { insights } from './commands/insights';
import { report as reportCommand } from './commands/report';
import { prices } from './commands/prices';
import { usage } from './commands/usage';

export const COMMANDS: ReadonlyArray<Command> = [
  keysCreate,
  keysList,
  keysShow,
  keysRevoke,
  keysUpdate,
  limitsSet,
  limitsClear,
  limitsList,
  budgetsSet,
  budgetsRemove,
  budgetsList,
  usage,
  insights,
  exportCommand,
  reportCommand,
  prices,
];

const GROUPS = ['keys', 'limits', 'budgets'];

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: tollgate <command> [options]        (npx tollgate ..., or npm run tollgate -- ...)

Administers a Tollgate gateway: API keys, rate limits, budgets and usage reports.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

\`tollgate <command> --help\` describes a command's options.

${TARGET_HELP}

Exit codes: 0 ok, 1 failed (not found, AWS/store error), 2 bad usage.
`;
}

/** Which command argv names, and the arguments left for it. */
export function findCommand(argv: ReadonlyArray<string>): { command: Command; rest: string[] } | { help: string } | { error: string } {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? argv.slice(1).join(' ') : '';
    if (!topic) return { help: mainHelp() };
    return findCommand([...argv.slice(1), '--help']);
  }
  if (GROUPS.includes(first)) {
    const command = COMMANDS.find((c) => c.name === `${first} ${second}`);
    if (command) return { command, rest: argv.slice(2) };
    const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
    if (second === undefined || second === '--help' || second === '-h') {
      return { help: `Usage: tollgate ${first} <${subs.join('|')}> [options]\n\n${COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => `  ${c.name.padEnd(16)}  ${c.summary}`).join('\n')}\n` };
    }
    return { error: `Unknown command 'tollgate ${first} ${second}'. Try one of: ${subs.join(', ')}.` };
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command) return { command, rest: argv.slice(1) };
  return { error: `Unknown command '${first}'. Run \`tollgate --help\` for the list.` };
}

export interface MainOptions {
  io?: CliEnvironment['io'];
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  stackOutputs?: CliEnvironment['stackOutputs'];
}

export async function main(argv: ReadonlyArray<string>, opts: MainOptions = {}): Promise<number> {
  const io = opts.io ?? { stdout: (t: string) => void process.stdout.write(t), stderr: (t: string) => void process.stderr.write(t) };
  // The one place the CLI reads the environment.
  const env = opts.env ?? process.env;
  const found = findCommand(argv);
  if ('help' in found) {
    io.stdout(found.help);
    return 0;
  }
  if ('error' in found) {
    io.stderr(`tollgate: ${found.error}\n`);
    return 2;
  }
  const cliEnv: CliEnvironment = {
    io,
    now: opts.now ?? Date.now,
    dataDir: env.TOLLGATE_DATA_DIR || undefined,
    stackOutputs: opts.stackOutputs,
    settings: lazySettings(env.TOLLGATE_CONFIG || undefined, io),
  };
  try {
    await found.command.run(found.rest, cliEnv);
    return 0;
  } catch (err) {
    return report(err, found.command, io, env.TOLLGATE_DEBUG === '1');
  }
}

function report(err: unknown, command: Command, io: CliEnvironment['io'], debug: boolean): number {
  if (err instanceof UsageError) {
    io.stderr(`tollgate ${command.name}: ${err.message}\nRun \`tollgate ${command.name} --help\` for usage.\n`);
    return 2;
  }
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    io.stderr(`tollgate ${command.name}: invalid input: ${issues.join('; ')}\n`);
    return 2;
  }
  if (err instanceof NotFound || err instanceof KeyNotFoundError) {
    io.stderr(`tollgate ${command.name}: ${err.message}\n`);
    return 1;
  }
  io.stderr(`tollgate ${command.name}: ${describeFailure(err)}\n`);
  if (debug && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
  return 1;
}

/** AWS and store failures in words an operator can act on. */
function describeFailure(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return 'no AWS credentials found. Configure them (aws configure / aws sso login / AWS_PROFILE) and retry.';
  }
  if (/Region is missing/i.test(message)) return 'no AWS region: pass --region or set AWS_REGION.';
  if (name === 'ResourceNotFoundException') return `a table was not found (${message}). Check the stack or the table names.`;
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || /not authorized to perform/i.test(message)) {
    return `access denied: ${message}\nThe operator policy is in docs/cli.md.`;
  }
  if (name === 'ExpiredTokenException' || name === 'ExpiredToken') return 'your AWS session has expired; log in again.';
  return `${name && name !== 'Error' ? `${name}: ` : ''}${message} (TOLLGATE_DEBUG=1 shows the stack)`;
}

/**
 * Settings from the config file, read only by commands that need them. An unreadable config falls back to
 * the schema defaults with a warning (a global budget's spend would be summed over the default shards).
 */
function lazySettings(configPath: string | undefined, io: CliEnvironment['io']): () => AdminSettings {
  let settings: AdminSettings | undefined;
  return () => {
    if (settings) return settings;
    let config;
    try {
      config = loadConfigFile(configPath);
    } catch (err) {
      io.stderr(`warning: could not read the config (${(err as Error).message}); using default metering and alert settings.\n`);
      config = parseConfig({ providers: {}, models: {} });
    }
    settings = { config, globalBudgetShards: config.metering.globalBudgetShards, budgetThresholdsPercent: config.alerts.budgetThresholdsPercent };
    return settings;
  };
}
