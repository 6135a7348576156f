/**
 * A git tree extracted for a side-by-side tool (bench/ab-compare.ts, lambda-ab.ts, cold-compare.ts,
 * cold-request.ts): `git archive` of a ref or tree into a folder that shares this checkout's node_modules,
 * and this tree as it stands (untracked files included) as a tree id to extract the same way.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

function git(args: string[], env: NodeJS.ProcessEnv = process.env): Buffer {
  return execFileSync('git', args, { cwd: ROOT, env, maxBuffer: 1 << 30 });
}

/** Extracts `treeish` (a ref, a commit, a tree id) into `dir` and links this checkout's node_modules there; `dir`. */
export function extractTree(treeish: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-x', '-C', dir], { input: git(['archive', treeish]) });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** This working tree as it stands, untracked files included, as a tree id (written from a scratch index at `indexFile`). */
export function workingTree(indexFile: string): string {
  const env = { ...process.env, GIT_INDEX_FILE: indexFile };
  git(['add', '-A'], env);
  return git(['write-tree'], env).toString().trim();
}
