/**
 * `tollgate limits set|clear|list`: requests and tokens per minute, per key or per team (the store's rate
 * limits; customers, features and the whole gateway are capped with budgets instead).
 */
import type { RateLimits } from '../../core/limits';
import { NotFound, positionals, UsageError } from '../args';
import { defineCommand } from '../command';
import { keyStore } from '../stores';
import { renderJson, renderTable } from '../format';
import { updatePolicy } from '../policies';
import { limitsText, rateLimits } from './keys';


const WHO_OPTIONS = {
  team: { type: 'string' },
  key: { type: 'string' },
  customer: { type: 'string' },
  feature: { type: 'string' },
  global: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function who(v: { team?: string; key?: string; customer?: string; feature?: string; global?: boolean }, command: string): { scope: 'team' | 'key'; id: string } {
  if (v.customer !== undefined || v.feature !== undefined || v.global) {
    throw new UsageError('Rate limits apply per key (--key) or per team (--team). Cap customers, features or the whole gateway with `tollgate budgets set`.', command);
  }
  if ((v.team === undefined) === (v.key === undefined)) throw new UsageError('Name exactly one of --team <id> or --key <key-id>.', command);
  return v.team !== undefined ? { scope: 'team', id: v.team } : { scope: 'key', id: v.key as string };
}

export const limitsSet = defineCommand({
  name: 'limits set',
  summary: "set a team's or a key's requests/tokens per minute",
  help: `Usage: tollgate limits set (--team <id> | --key <key-id>) [--rpm <n>] [--tpm <n>] [--json]

A team limit is shared by all of the team's keys; a key limit by that key's requests. A request must fit
both. Setting one of --rpm/--tpm keeps the other as it was.

Example:
  tollgate limits set --team search --rpm 600 --tpm 400000`,
  options: { ...WHO_OPTIONS, rpm: { type: 'string' }, tpm: { type: 'string' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'limits set');
    const target = who(v, 'limits set');
    const limits = rateLimits(v.rpm, v.tpm);
    if (!limits) throw new UsageError('Give --rpm <n> and/or --tpm <n> (to remove limits: tollgate limits clear).', 'limits set');
    const store = await keyStore(ctx);
    let result: RateLimits | undefined;
    if (target.scope === 'team') {
      const policy = await updatePolicy(store, 'team', target.id, (cur) => ({ ...cur, rateLimits: { ...cur.rateLimits, ...limits } }));
      result = policy?.rateLimits;
    } else {
      const key = await store.get(target.id);
      if (!key) throw new NotFound(`No API key with id '${target.id}'.`);
      result = (await store.update(target.id, { rateLimits: { ...key.rateLimits, ...limits } })).rateLimits;
    }
    ctx.io.stdout(v.json ? renderJson({ ...target, rateLimits: result }) : `Rate limits of ${target.scope} ${target.id}: ${limitsText(result)}.\n`);
  },
});

export const limitsClear = defineCommand({
  name: 'limits clear',
  summary: "remove a team's or a key's rate limits",
  help: `Usage: tollgate limits clear (--team <id> | --key <key-id>)

Example:
  tollgate limits clear --team search`,
  options: WHO_OPTIONS,
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'limits clear');
    const target = who(v, 'limits clear');
    const store = await keyStore(ctx);
    if (target.scope === 'team') await updatePolicy(store, 'team', target.id, (cur) => ({ budgets: cur.budgets }));
    else await store.update(target.id, { rateLimits: null });
    ctx.io.stdout(v.json ? renderJson({ ...target, rateLimits: null }) : `Removed the rate limits of ${target.scope} ${target.id}.\n`);
  },
});

export const limitsList = defineCommand({
  name: 'limits list',
  summary: 'list the rate limits of teams and keys',
  help: `Usage: tollgate limits list [--json]

Example:
  tollgate limits list`,
  options: { json: { type: 'boolean' } },
  async run({ values: v, positionals: p }, ctx) {
    positionals({ positionals: p }, [], 'limits list');
    const store = await keyStore(ctx);
    const [policies, keys] = await Promise.all([store.listPolicies(), store.list()]);
    const rows = [
      ...policies.filter((x) => x.rateLimits).map((x) => ({ scope: 'team', id: x.id, name: '', rateLimits: x.rateLimits as RateLimits })),
      ...keys.filter((k) => k.rateLimits).map((k) => ({ scope: 'key', id: k.keyId, name: k.name, rateLimits: k.rateLimits as RateLimits })),
    ];
    if (v.json) {
      ctx.io.stdout(renderJson(rows));
      return;
    }
    if (rows.length === 0) {
      ctx.io.stdout('No rate limits are set.\n');
      return;
    }
    ctx.io.stdout(
      renderTable(
        [{ header: 'SCOPE' }, { header: 'ID' }, { header: 'NAME' }, { header: 'RPM', right: true }, { header: 'TPM', right: true }],
        rows.map((r) => [r.scope, r.id, r.name || '-', r.rateLimits.rpm ?? '-', r.rateLimits.tpm ?? '-']),
      ),
    );
  },
});
