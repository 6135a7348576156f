/**
 * Reads V8 .cpuprofile files (from `node --cpu-prof`) and ranks self time by area (our files, each
 * dependency, Node's HTTP, web streams, undici, GC) and by function. Idle time is left out.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileSection } from './harness';
import { round } from './stats';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summarizeProfiles(dir: string, what: string, top = 20): ProfileSection | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  const byFn = new Map<string, { fn: string; where: string; us: number }>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    for (let i = 0; i < profile.samples.length; i++) {
      const frame = frames.get(profile.samples[i]);
      // timeDeltas[i + 1] is the time until the next sample, i.e. spent in sample i.
      const us = profile.timeDeltas[i + 1] ?? 0;
      if (!frame || frame.functionName === '(idle)') continue;
      total += us;
      const area = areaOf(frame);
      byArea.set(area, (byArea.get(area) ?? 0) + us);
      const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '(native)';
      const fn = frame.functionName || '(anonymous)';
      const key = `${fn}@${where}`;
      const entry = byFn.get(key) ?? { fn, where, us: 0 };
      entry.us += us;
      byFn.set(key, entry);
    }
  }
  const pct = (us: number) => round((us / Math.max(1, total)) * 100, 1);
  return {
    profiledRequests: what,
    totalSampledMs: round(total / 1000, 0),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([area, us]) => ({ area, selfPct: pct(us) })),
    topFunctions: [...byFn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ fn: e.fn, where: e.where, selfPct: pct(e.us) })),
  };
}

export function areaOf(frame: Pick<CallFrame, 'functionName' | 'url'>): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return 'V8 / native (program)';
    return 'native';
  }
  if (url.startsWith('node:')) {
    if (url.includes('undici')) return 'node: undici (fetch to upstream)';
    if (url.includes('webstreams')) return 'node: web streams';
    if (/_http_|node:http|internal\/http/.test(url)) return 'node: http server/client';
    if (/net|stream_base|tcp/.test(url)) return 'node: net/sockets';
    if (/internal\/streams/.test(url)) return 'node: node streams';
    if (/abort|event_target|events/.test(url)) return 'node: events/AbortSignal';
    return 'node: other internals';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const lambda = url.indexOf('/lambda/');
  if (lambda >= 0) return url.slice(lambda + 1).replace(/^file:\/\//, '');
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return url.slice(bench + 1);
  return shortUrl(url);
}

function shortUrl(url: string): string {
  const u = url.replace(/^file:\/\//, '');
  for (const marker of ['/node_modules/', '/lambda/', '/bench/']) {
    const i = u.lastIndexOf(marker);
    if (i >= 0) return u.slice(i + 1);
  }
  return u;
}

interface ProfileNodeWithChildren extends ProfileNode {
  children?: number[];
}

/**
 * Inclusive time: the share of samples with each function somewhere on the stack (each counted once per
 * sample), for functions whose file matches `include` — where a request's time goes, callees included.
 */
export function inclusiveShares(dir: string, include: RegExp, top = 30): { fn: string; where: string; inclusivePct: number }[] {
  if (!existsSync(dir)) return [];
  const totals = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNodeWithChildren[]; samples: number[]; timeDeltas: number[] };
    const parent = new Map<number, number>();
    const byId = new Map<number, ProfileNodeWithChildren>();
    for (const n of profile.nodes) {
      byId.set(n.id, n);
      for (const c of n.children ?? []) parent.set(c, n.id);
    }
    for (let i = 0; i < profile.samples.length; i++) {
      const us = profile.timeDeltas[i + 1] ?? 0;
      const leaf = byId.get(profile.samples[i]);
      if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
      total += us;
      const seen = new Set<string>();
      for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
        const f = byId.get(id)?.callFrame;
        if (!f || !include.test(f.url)) continue;
        const where = `${shortUrl(f.url)}:${f.lineNumber + 1}`;
        const key = `${f.functionName || '(anonymous)'}@${where}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const e = totals.get(key) ?? { fn: f.functionName || '(anonymous)', where, us: 0 };
        e.us += us;
        totals.set(key, e);
      }
    }
  }
  return [...totals.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ fn: e.fn, where: e.where, inclusivePct: round((e.us / Math.max(1, total)) * 100, 1) }));
}
