/**
 * The local server's settlement outbox: an append-only JSON-lines file in the data folder. A settlement
 * the store could not take before its deadline is appended (and fsynced) here, and replayed at start and
 * on every sweep. Replaying first renames the file aside (atomic), so settlements appended meanwhile go to
 * a fresh file; messages that fail again are appended back, and the renamed file is deleted only after
 * that. A crash in between leaves the renamed file, which the next replay picks up: messages may be
 * replayed twice, never dropped (a replay counts once: settlement is idempotent).
 */
import { appendFile, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isSettlementMessage, type SettlementMessage, type SettlementOutbox } from '../store/settlement';

export class FileOutbox implements SettlementOutbox {
  private replaying: Promise<{ replayed: number; kept: number }> | undefined;

  constructor(readonly path: string) {}

  async put(message: SettlementMessage): Promise<void> {
    const handle = await open(this.path, 'a');
    try {
      await handle.appendFile(JSON.stringify(message) + '\n');
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Replay every waiting message through `apply`; one replay at a time. */
  replay(apply: (m: SettlementMessage) => Promise<void>): Promise<{ replayed: number; kept: number }> {
    this.replaying ??= this.replayAll(apply).finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  private async replayAll(apply: (m: SettlementMessage) => Promise<void>): Promise<{ replayed: number; kept: number }> {
    const dir = dirname(this.path);
    const name = basename(this.path);
    const aside = `${name}.replaying-${Date.now()}`;
    await rename(this.path, join(dir, aside)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    const files = (await readdir(dir)).filter((f) => f.startsWith(`${name}.replaying-`)).sort();
    let replayed = 0;
    let kept = 0;
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const failed: string[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          continue; // a torn last line from a crash mid-append: the message was never acknowledged
        }
        if (!isSettlementMessage(message)) continue;
        try {
          await apply(message);
          replayed++;
        } catch {
          failed.push(line);
        }
      }
      if (failed.length > 0) await appendFile(this.path, failed.join('\n') + '\n');
      kept += failed.length;
      await rm(join(dir, file), { force: true });
    }
    return { replayed, kept };
  }
}
