/**
 * Child processes for the multi-process topology (client, upstream and gateway each on their own event
 * loop, as in production), with a tiny request/reply protocol over the IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface IpcRequest {
  id: number;
  type: string;
  payload?: unknown;
}
export interface IpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface Worker {
  pid: number;
  call<T>(type: string, payload?: unknown): Promise<T>;
  /** Asks the child to shut down cleanly (so --cpu-prof writes its profile) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Forks a TypeScript module through the same loader this process runs under (tsx), or, with `bundled`, a
 * bundle (bench/processes/bundle-worker.ts) under plain node: the loader's flags left out, the file removed
 * when the process exits.
 */
export async function startWorker(
  script: string,
  opts: {
    execArgv?: string[];
    env?: Record<string, string>;
    quietStdout?: boolean;
    bundled?: boolean;
    execPath?: string;
    /** The child's stdout, line by line (e.g. V8's --trace-gc-nvp lines); it is read, not shown. */
    onStdoutLine?: (line: string) => void;
  } = {},
): Promise<Worker> {
  const child: ChildProcess = fork(script, [], {
    ...(opts.execPath ? { execPath: opts.execPath } : {}),
    execArgv: [...(opts.bundled ? [] : tsxExecArgv()), ...(opts.execArgv ?? [])],
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.onStdoutLine ? 'pipe' : opts.quietStdout ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  if (opts.onStdoutLine && child.stdout) {
    const onLine = opts.onStdoutLine;
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine);
  }
  if (opts.bundled) child.once('exit', () => [script, `${script}.map`].forEach((f) => rmSync(f, { force: true })));
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m: IpcReply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(new Error(m.error));
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`${script} exited (${code})`));
    waiting.clear();
  });
  const call = <T>(type: string, payload?: unknown) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, type, payload } satisfies IpcRequest);
    });
  return {
    pid: child.pid ?? -1,
    call,
    async stop() {
      if (child.exitCode !== null) return;
      await call('stop').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** This process's flags, with tsx's loader added when it runs without it (under jest, whose transform is not tsx). */
function tsxExecArgv(): string[] {
  return process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', 'tsx'];
}

/** This process's CPU time so far (user + system, µs): what every worker answers to `cpu`. */
export function processCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Child side: answer requests with the given handlers (and `cpu`, this process's CPU time, unless a handler
 * says otherwise); `stop` replies, runs `onStop`, then exits.
 */
export function serveWorker(handlers: Record<string, (payload: unknown) => unknown>, onStop: () => Promise<void>): void {
  handlers = { cpu: processCpuMicros, ...handlers };
  process.on('message', (m: IpcRequest) => {
    void (async () => {
      if (m.type === 'stop') {
        await onStop().catch(() => undefined);
        process.send?.({ id: m.id, ok: true } satisfies IpcReply, () => process.exit(0));
        return;
      }
      const handler = handlers[m.type];
      try {
        if (!handler) throw new Error(`unknown request ${m.type}`);
        process.send?.({ id: m.id, ok: true, result: await handler(m.payload) } satisfies IpcReply);
      } catch (err) {
        process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies IpcReply);
      }
    })();
  });
  // The parent going away must not leave servers running.
  process.on('disconnect', () => process.exit(0));
}
