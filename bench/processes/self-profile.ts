/**
 * A worker process profiling itself (V8's sampling profiler over the inspector) between profileStart and
 * profileStop, so start-up, module compilation and warm-up stay out of the profile; with
 * TOLLGATE_BENCH_ALLOC=1 (or `survivors`), an allocation profile instead. Shared by the gateway process and
 * the Lambda container process.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { SourceMap } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

let session: Session | undefined;

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))));
}

interface Frame {
  callFrame: { url: string; lineNumber: number; columnNumber: number };
}
interface CpuProfile {
  nodes: Frame[];
}
interface HeapProfile {
  head: Frame & { children: HeapProfile['head'][] };
}

function framesOf(profile: CpuProfile | HeapProfile): Frame[] {
  if ('nodes' in profile) return profile.nodes;
  const frames: Frame[] = [];
  const stack = [profile.head];
  for (let node = stack.pop(); node; node = stack.pop()) {
    frames.push(node);
    stack.push(...node.children);
  }
  return frames;
}

/**
 * Run from its bundle (bench/processes/ipc.ts), this process's code is one file: each frame of the bundle
 * is pointed back at its source file and line through the bundle's source map, so that profiles (CPU and
 * allocation) read by file (bench/profile.ts) as they do when tsx runs the sources.
 */
function bySourceFile<P extends CpuProfile | HeapProfile>(profile: P): P {
  const mapFile = `${__filename}.map`;
  if (!existsSync(mapFile)) return profile;
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  const bundleUrl = pathToFileURL(__filename).href;
  for (const { callFrame: f } of framesOf(profile)) {
    if (f.url !== bundleUrl && f.url !== __filename) continue;
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined) continue;
    const source = entry.originalSource.startsWith('file://') ? entry.originalSource : pathToFileURL(resolve(dirname(__filename), entry.originalSource)).href;
    Object.assign(f, { url: source, lineNumber: entry.originalLine ?? 0, columnNumber: entry.originalColumn ?? 0 });
  }
  return profile;
}


const allocation = () => process.env.TOLLGATE_BENCH_ALLOC === '1' || process.env.TOLLGATE_BENCH_ALLOC === 'survivors';

export async function profileStart(): Promise<void> {
  session = new Session();
  session.connect();
  if (allocation()) {
    // Allocation sampling instead of CPU sampling: where the bytes the young generation collects come from
    // (`survivors`: only what outlived a scavenge, i.e. what the young generation has to copy).
    const survivors = process.env.TOLLGATE_BENCH_ALLOC === 'survivors';
    await post(session, 'HeapProfiler.enable');
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors });
    return;
  }
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 250 });
  await post(session, 'Profiler.start');
}

/** Writes `<prefix>-<pid>.cpuprofile` (or `.heapprofile`) into `dir`, frames mapped back to source files. */
export async function profileStop(dir: string, prefix: string): Promise<void> {
  if (!session) return;
  const s = session;
  session = undefined;
  if (allocation()) {
    const { profile } = await post<{ profile: unknown }>(s, 'HeapProfiler.stopSampling');
    s.disconnect();
    writeFileSync(join(dir, `${prefix}-${process.pid}.heapprofile`), JSON.stringify(bySourceFile(profile as HeapProfile)));
    return;
  }
  const { profile } = await post<{ profile: unknown }>(s, 'Profiler.stop');
  s.disconnect();
  writeFileSync(join(dir, `${prefix}-${process.pid}.cpuprofile`), JSON.stringify(bySourceFile(profile as CpuProfile)));
}
