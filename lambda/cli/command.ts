/**
 * One admin command declared as data: name, help, its own options (the target options are added to every
 * command), and `run`, which gets typed option values and opens the store only when it needs it.
 */
import type { TollgateConfig } from '../core/config';
import { parseCommandArgs, TARGET_OPTIONS, type OptionDefs, type Parsed } from './args';
import { openTarget, selectTarget, type AdminStore, type StackOutputsReader, type TargetOptions } from './target';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Everything the CLI takes from its environment, read once by main. */
export interface CliEnvironment {
  io: CliIo;
  now: () => number;
  /** TOLLGATE_DATA_DIR. */
  dataDir?: string;
  stackOutputs?: StackOutputsReader;
  /** The gateway settings an admin view depends on, from the config file (read on first use). */
  settings: () => AdminSettings;
}

export interface AdminSettings {
  /** The whole validated config (pricing, providers, models, insights). */
  config: TollgateConfig;
  /** config.metering.globalBudgetShards: the global budget's counters are summed over this many shards. */
  globalBudgetShards: number;
  /** config.alerts.budgetThresholdsPercent: thresholds of budgets that name none. */
  budgetThresholdsPercent: number[];
}

export interface RunContext {
  io: CliIo;
  now: () => number;
  /** Opens the selected store on first call; closed when the command ends. */
  store(): Promise<AdminStore>;
  settings: () => AdminSettings;
}

export interface Command {
  /** `keys create` */
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(args: string[], env: CliEnvironment): Promise<void>;
}

export const TARGET_HELP = `Store (default: the local server's data folder, .tollgate-data at the repo root or $TOLLGATE_DATA_DIR):
  --local [dir]                 the local store; attaches to a running \`npm start\`, else opens the folder
  --data-dir <dir>              same as --local <dir>
  --stack <name> [--region r]   a deployed stack: table names from its outputs, your AWS credentials
  --keys-table <t> --ledger-table <t> [--region r]   explicit DynamoDB tables
  --endpoint <url>              DynamoDB Local / dynalite (default tables tollgate-keys, tollgate-ledger)
  -h, --help                    this help`;

export function defineCommand<O extends OptionDefs>(spec: {
  name: string;
  summary: string;
  /** Usage lines and the command's own options; the store options are appended. */
  help: string;
  options: O;
  run(parsed: Parsed<O & typeof TARGET_OPTIONS>, ctx: RunContext): Promise<void>;
}): Command {
  const help = `${spec.help.trimEnd()}\n\n${TARGET_HELP}\n`;
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    async run(args, env) {
      const parsed = parseCommandArgs(args, { ...spec.options, ...TARGET_OPTIONS }, spec.name);
      // Every command has the target options; TypeScript cannot see through the generic merge.
      const common = parsed.values as TargetOptions & { help?: boolean };
      if (common.help) {
        env.io.stdout(help);
        return;
      }
      const target = selectTarget(common, env.dataDir);
      let opened: Promise<AdminStore> | undefined;
      const ctx: RunContext = {
        io: env.io,
        now: env.now,
        settings: env.settings,
        store: () => (opened ??= openTarget(target, { stackOutputs: env.stackOutputs, notice: (t) => env.io.stderr(`${t}\n`) })),
      };
      try {
        await spec.run(parsed, ctx);
      } finally {
        if (opened) await opened.then((s) => s.close()).catch(() => undefined);
      }
    },
  };
}
