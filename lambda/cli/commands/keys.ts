/** `tollgate keys create|list|show|revoke|update`. The secret is printed once, at creation; never its hash. */
import { budgetName, GLOBAL_BUDGET_ID, type BudgetRule } from '../../core/budgets';
import { hasLimits, type RateLimits } from '../../core/limits';
import { type ApiKeyRecord, type CreateKeyInput, type UpdateKeyInput } from '../../store/key-store';
import { booleanWord, budgetSpec, expiry, list, NotFound, positionals, positiveInt, UsageError } from '../args';
import { defineCommand } from '../command';
import { keyStore } from '../stores';
import { isoDate, renderJson, renderTable, usd } from '../format';


const ATTRIBUTE_OPTIONS = {
  name: { type: 'string' },
  team: { type: 'string' },
  customer: { type: 'string' },
  environment: { type: 'string' },
  feature: { type: 'string' },
  features: { type: 'string' },
  models: { type: 'string' },
  expires: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  budget: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

const ATTRIBUTE_HELP = `  --team <id>                   team the key's usage is attributed to (team budgets, team rate limits)
  --customer <id>               customer when a request names none
  --environment <id>            e.g. prod, staging
  --feature <id>                default feature of the key's requests
  --features a,b                features a request may name (default: any)
  --models a,b                  models the key may use (default: all)
  --expires <when>              2027-01-01 (00:00 UTC), 2027-01-01T12:00Z, or 12h / 30d / 8w from now
  --rpm <n> --tpm <n>           per-key requests / tokens per minute
  --budget <spec>               repeatable: <scope>[=<id>]:<day|month>:<usd>[:hard|soft]
                                e.g. key:month:50:hard, customer:day:5 (each customer of this key)
  --json                        machine-readable output`;

/** The key fields both create and update take from ATTRIBUTE_OPTIONS as given (undefined when absent). */
function attributeFields(v: { name?: string; team?: string; customer?: string; environment?: string; feature?: string; features?: string; models?: string }) {
  return {
    name: v.name,
    team: v.team,
    customer: v.customer,
    environment: v.environment,
    defaultFeature: v.feature,
    allowedFeatures: list(v.features),
    allowedModels: list(v.models),
  };
}

export const keysCreate = defineCommand({
  name: 'keys create',
  summary: 'create an API key (the key is printed once)',
  help: `Usage: tollgate keys create --name <name> [options]

Creates an API key and prints it once: Tollgate stores only its SHA-256, so it cannot be shown again.

  --name <name>                 what the key is for (required)
${ATTRIBUTE_HELP}
  --allow-customer-override     requests may name their own customer (header, metadata or user)
  --log-content                 prompts and responses of this key's requests may be logged

Example:
  tollgate keys create --name search-prod --team search --feature search --models gpt-4o-mini --rpm 600 --budget key:month:50:hard`,
  options: { ...ATTRIBUTE_OPTIONS, 'allow-customer-override': { type: 'boolean' }, 'log-content': { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'keys create');
    if (v.name === undefined) throw new UsageError('--name is required.', 'keys create');
    const input: CreateKeyInput = {
      ...attributeFields(v),
      name: v.name,
      allowCustomerOverride: v['allow-customer-override'] ?? false,
      expiresAt: v.expires === undefined ? undefined : expiry(v.expires, ctx.now()),
      rateLimits: rateLimits(v.rpm, v.tpm),
      budgets: (v.budget ?? []).map(budgetSpec),
      logContent: v['log-content'] ?? false,
    };
    const { apiKey, key } = await (await keyStore(ctx)).create(input);
    const warning = 'Store this key now: it is shown only this once, and Tollgate keeps only its hash.';
    if (v.json) {
      ctx.io.stdout(renderJson({ apiKey, key }));
      ctx.io.stderr(`${warning}\n`);
      return;
    }
    ctx.io.stdout(`Created ${key.keyId} (${key.name}${key.team ? `, team ${key.team}` : ''}):\n\n  ${apiKey}\n\n${warning}\n`);
  },
});

export const keysList = defineCommand({
  name: 'keys list',
  summary: 'list keys (active ones unless --all)',
  help: `Usage: tollgate keys list [--team <id>] [--all] [--json]

  --team <id>                   only this team's keys
  --all                         include revoked keys
  --json                        machine-readable output

Example:
  tollgate keys list --team search --all`,
  options: { team: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'keys list');
    const keys = await (await keyStore(ctx)).list({ team: v.team, includeRevoked: v.all === true });
    if (v.json) {
      ctx.io.stdout(renderJson(keys));
      return;
    }
    if (keys.length === 0) {
      ctx.io.stdout(`No ${v.all ? '' : 'active '}keys${v.team ? ` for team ${v.team}` : ''}.\n`);
      return;
    }
    const now = ctx.now();
    ctx.io.stdout(
      renderTable(
        [{ header: 'ID' }, { header: 'PREFIX' }, { header: 'NAME' }, { header: 'TEAM' }, { header: 'STATUS' }, { header: 'EXPIRES' }, { header: 'LIMITS' }, { header: 'BUDGETS' }],
        keys.map((k) => [k.keyId, `${k.prefix}…`, k.name, k.team ?? '-', status(k, now), isoDate(k.expiresAt), limitsText(k.rateLimits), budgetsText(k)]),
      ),
    );
  },
});

export const keysShow = defineCommand({
  name: 'keys show',
  summary: "show one key's settings",
  help: `Usage: tollgate keys show <key-id> [--json]

Example:
  tollgate keys show key_3f9a0c1d2b4e5f60`,
  options: { json: { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    const [keyId] = positionals({ positionals: p }, ['key-id'], 'keys show');
    const key = await (await keyStore(ctx)).get(keyId);
    if (!key) throw new NotFound(`No API key with id '${keyId}'.`);
    ctx.io.stdout(v.json ? renderJson(key) : describeKey(key, ctx.now()));
  },
});

export const keysRevoke = defineCommand({
  name: 'keys revoke',
  summary: 'revoke a key',
  help: `Usage: tollgate keys revoke <key-id> [--json]

Gateway containers that cached the key accept it until their cache expires
(config.metering.keyCacheSeconds, 30 s by default).

Example:
  tollgate keys revoke key_3f9a0c1d2b4e5f60`,
  options: { json: { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    const [keyId] = positionals({ positionals: p }, ['key-id'], 'keys revoke');
    const key = await (await keyStore(ctx)).revoke(keyId);
    ctx.io.stdout(v.json ? renderJson(key) : `Revoked ${key.keyId} (${key.name}). Cached copies expire within config.metering.keyCacheSeconds.\n`);
  },
});

export const keysUpdate = defineCommand({
  name: 'keys update',
  summary: "change a key's name, attribution, models, expiry, limits or budgets",
  help: `Usage: tollgate keys update <key-id> [options]

Only the options given change. Lists (--models, --features) and --budget replace what the key had;
--rpm/--tpm change one limit and keep the other.

  --name <name>
${ATTRIBUTE_HELP}
  --expires never               remove the expiry
  --no-limits                   remove the key's rate limits
  --no-budgets                  remove the key's budgets
  --models ''                   allow all models again
  --allow-customer-override true|false
  --log-content true|false

Example:
  tollgate keys update key_3f9a0c1d2b4e5f60 --models gpt-4o-mini,claude-haiku --tpm 200000 --expires 90d`,
  options: {
    ...ATTRIBUTE_OPTIONS,
    'no-limits': { type: 'boolean' },
    'no-budgets': { type: 'boolean' },
    'allow-customer-override': { type: 'string' },
    'log-content': { type: 'string' },
  },
  async run({ values: v, positionals: p }, ctx) {
    const [keyId] = positionals({ positionals: p }, ['key-id'], 'keys update');
    if (v['no-limits'] && (v.rpm !== undefined || v.tpm !== undefined)) throw new UsageError('--no-limits cannot be combined with --rpm/--tpm.', 'keys update');
    if (v['no-budgets'] && v.budget !== undefined) throw new UsageError('--no-budgets cannot be combined with --budget.', 'keys update');
    const patch: UpdateKeyInput = {
      ...attributeFields(v),
      allowCustomerOverride: booleanWord(v['allow-customer-override'], 'allow-customer-override'),
      logContent: booleanWord(v['log-content'], 'log-content'),
      expiresAt: v.expires === undefined ? undefined : v.expires === 'never' ? null : expiry(v.expires, ctx.now()),
      budgets: v['no-budgets'] ? [] : v.budget?.map(budgetSpec),
    };
    const store = await keyStore(ctx);
    if (v['no-limits']) {
      patch.rateLimits = null;
    } else if (v.rpm !== undefined || v.tpm !== undefined) {
      const current = await store.get(keyId);
      if (!current) throw new NotFound(`No API key with id '${keyId}'.`);
      patch.rateLimits = { ...current.rateLimits, ...rateLimits(v.rpm, v.tpm) };
    }
    if (Object.values(patch).every((x) => x === undefined)) throw new UsageError('Nothing to update: give at least one option.', 'keys update');
    const key = await store.update(keyId, patch);
    ctx.io.stdout(v.json ? renderJson(key) : `Updated ${key.keyId}.\n${describeKey(key, ctx.now())}`);
  },
});

export function rateLimits(rpm: string | undefined, tpm: string | undefined): RateLimits | undefined {
  const limits: RateLimits = {};
  const r = positiveInt(rpm, 'rpm');
  const t = positiveInt(tpm, 'tpm');
  if (r !== undefined) limits.rpm = r;
  if (t !== undefined) limits.tpm = t;
  return hasLimits(limits) ? limits : undefined;
}

export function limitsText(l: RateLimits | undefined): string {
  if (!hasLimits(l)) return '-';
  return [l.rpm !== undefined ? `${l.rpm} rpm` : '', l.tpm !== undefined ? `${l.tpm} tpm` : ''].filter(Boolean).join(', ');
}

export function ruleText(r: BudgetRule): string {
  const id = r.scope === 'global' ? GLOBAL_BUDGET_ID : (r.id ?? (r.scope === 'key' ? 'self' : 'each'));
  return `${budgetName({ scope: r.scope, id, period: r.period })} $${usd(r.limitUsd)} ${r.mode}`;
}

function budgetsText(k: ApiKeyRecord): string {
  return k.budgets.length ? k.budgets.map(ruleText).join('; ') : '-';
}

function status(k: ApiKeyRecord, now: number): string {
  if (k.status === 'revoked') return 'revoked';
  return k.expiresAt !== undefined && k.expiresAt <= now ? 'expired' : 'active';
}

function describeKey(k: ApiKeyRecord, now: number): string {
  const rows: Array<[string, string]> = [
    ['id', k.keyId],
    ['prefix', `${k.prefix}…`],
    ['name', k.name],
    ['status', status(k, now) + (k.revokedAt ? ` (revoked ${isoDate(k.revokedAt)})` : '')],
    ['created', isoDate(k.createdAt)],
    ['expires', isoDate(k.expiresAt)],
    ['team', k.team ?? '-'],
    ['customer', k.customer ?? '-'],
    ['environment', k.environment ?? '-'],
    ['default feature', k.defaultFeature ?? '-'],
    ['allowed features', k.allowedFeatures.join(', ') || 'any'],
    ['allowed models', k.allowedModels.join(', ') || 'all'],
    ['customer override', k.allowCustomerOverride ? 'allowed' : 'no'],
    ['rate limits', limitsText(k.rateLimits)],
    ['budgets', budgetsText(k)],
    ['log content', k.logContent ? 'yes' : 'no'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n') + '\n';
}
