/**
 * Which store the admin CLI talks to. The deployed stack is reached with the operator's own AWS
 * credentials (the SDK's default chain: env, profile, SSO, ...), so IAM decides who may administer and no
 * admin endpoint exists for a gateway key to reach. Locally it is the data folder `npm start` uses.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DUMMY_CREDENTIALS, LOCAL_TABLES, localDynamoClient, openLocalStore, type StoreTables } from '../local/embedded-dynamo';
import { UsageError } from './args';

export type Target =
  | { kind: 'local'; dataDir: string }
  | { kind: 'stack'; stack: string; region?: string }
  /** Explicit table names in AWS (default credentials), or at `endpoint` (DynamoDB Local, dynalite). */
  | { kind: 'tables'; tables: StoreTables; region?: string; endpoint?: string };

export interface TargetOptions {
  local?: boolean;
  'data-dir'?: string;
  stack?: string;
  region?: string;
  'keys-table'?: string;
  'ledger-table'?: string;
  endpoint?: string;
}

/** The data folder when none is named: TOLLGATE_DATA_DIR, else `.tollgate-data` at the repo root. */
export function defaultDataDir(envDataDir: string | undefined): string {
  return envDataDir ? resolve(envDataDir) : resolve(__dirname, '..', '..', '.tollgate-data');
}

export function selectTarget(o: TargetOptions, envDataDir: string | undefined): Target {
  const explicitTables = o['keys-table'] !== undefined || o['ledger-table'] !== undefined;
  const local = o.local === true || o['data-dir'] !== undefined;
  if (local && (o.stack !== undefined || explicitTables || o.endpoint !== undefined)) {
    throw new UsageError('--local/--data-dir cannot be combined with --stack, --keys-table/--ledger-table or --endpoint.');
  }
  if (o.stack !== undefined && (explicitTables || o.endpoint !== undefined)) {
    throw new UsageError('--stack reads the table names from the stack outputs; drop --keys-table/--ledger-table/--endpoint, or drop --stack.');
  }
  if (o.stack !== undefined) {
    if (!o.stack) throw new UsageError('--stack needs a stack name.');
    return { kind: 'stack', stack: o.stack, region: o.region };
  }
  if (explicitTables) {
    if (!o['keys-table'] || !o['ledger-table']) throw new UsageError('--keys-table and --ledger-table go together: name both tables.');
    return { kind: 'tables', tables: { keys: o['keys-table'], ledger: o['ledger-table'] }, region: o.region, endpoint: o.endpoint };
  }
  if (o.endpoint !== undefined) return { kind: 'tables', tables: LOCAL_TABLES, region: o.region, endpoint: o.endpoint };
  if (o.region !== undefined) throw new UsageError('--region needs an AWS target: --stack <name> or --keys-table/--ledger-table.');
  return { kind: 'local', dataDir: o['data-dir'] !== undefined ? resolve(o['data-dir']) : defaultDataDir(envDataDir) };
}

export interface AdminStore {
  client: DynamoDBClient;
  tables: StoreTables;
  /** For messages: `local store /repo/.tollgate-data`, `stack tollgate (eu-west-1)`. */
  description: string;
  close(): Promise<void>;
}

/** A stack's outputs as OutputKey → OutputValue. */
export type StackOutputsReader = (stack: string, region: string | undefined) => Promise<Record<string, string>>;

export const STACK_OUTPUTS = { keys: 'KeysTableName', ledger: 'LedgerTableName' } as const;

/** The tables a deployed stack names in its outputs (see lib/gateway-stack.ts). */
export function tablesFromStackOutputs(stack: string, outputs: Readonly<Record<string, string>>): StoreTables {
  const missing = Object.values(STACK_OUTPUTS).filter((k) => !outputs[k]);
  if (missing.length > 0) {
    throw new UsageError(
      `Stack '${stack}' has no output ${missing.join(' or ')}: is it a Tollgate stack, and is the deployment finished? ` +
        `(Outputs found: ${Object.keys(outputs).join(', ') || 'none'}.)`,
    );
  }
  return { keys: outputs[STACK_OUTPUTS.keys], ledger: outputs[STACK_OUTPUTS.ledger] };
}

/** CloudFormation DescribeStacks with the default credential chain; loaded only for `--stack`. */
export const describeStackOutputs: StackOutputsReader = async (stack, region) => {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ region });
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const found = out.Stacks?.[0];
    if (!found) throw new UsageError(`Stack '${stack}' was not found.`);
    return Object.fromEntries((found.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue).map((o) => [o.OutputKey as string, o.OutputValue as string]));
  } catch (err) {
    if ((err as { name?: string }).name === 'ValidationError' && /does not exist/.test((err as Error).message)) {
      throw new UsageError(`Stack '${stack}' does not exist in ${(await cfn.config.region()) || 'the current region'}. Check --stack and --region.`);
    }
    throw err;
  } finally {
    cfn.destroy();
  }
};

export async function openTarget(target: Target, deps: { stackOutputs?: StackOutputsReader; notice?: (text: string) => void } = {}): Promise<AdminStore> {
  switch (target.kind) {
    case 'local': {
      const existed = existsSync(target.dataDir);
      const store = await openLocalStore({ dataDir: target.dataDir });
      if (!existed) deps.notice?.(`No local store at ${target.dataDir} yet: created an empty one.`);
      const how = store.owner ? 'opened' : 'attached to the running server';
      return { client: store.client, tables: store.tables, description: `local store ${target.dataDir} (${how})`, close: () => store.close() };
    }
    case 'stack': {
      const outputs = await (deps.stackOutputs ?? describeStackOutputs)(target.stack, target.region);
      const tables = tablesFromStackOutputs(target.stack, outputs);
      const client = new DynamoDBClient({ region: target.region });
      return { client, tables, description: `stack ${target.stack}`, close: async () => client.destroy() };
    }
    case 'tables': {
      // An endpoint is DynamoDB Local or dynalite: fixed dummy credentials, never the operator's real ones.
      const client = target.endpoint
        ? target.region
          ? new DynamoDBClient({ endpoint: target.endpoint, region: target.region, credentials: DUMMY_CREDENTIALS })
          : localDynamoClient(target.endpoint)
        : new DynamoDBClient({ region: target.region });
      const where = target.endpoint ?? 'AWS';
      return { client, tables: target.tables, description: `tables ${target.tables.keys} / ${target.tables.ledger} at ${where}`, close: async () => client.destroy() };
    }
  }
}
