/**
 * bench/cold-request.ts, the cold-container measure the README's cold-start numbers come from: run as a
 * script (it extracts a git ref and builds both sides' bundles), one container per side and model. The tool
 * itself refuses a side whose request did not complete (200 and `[DONE]`), so a report is proof that both
 * bundles served both targets cold.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

jest.setTimeout(240_000);

const ROOT = resolve(__dirname, '..', '..');

interface Side {
  requireMs: number;
  firstRequestMs: number;
  toLastByteMs: number;
  handlerReturnedMs: number;
}

it('serves one streamed request from a cold container of each build, OpenAI-compatible and Bedrock, and reports the times', async () => {
  const out = await new Promise<string>((res, rej) =>
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['bench/cold-request.ts', 'HEAD', '1', 'both'], { cwd: ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${err.message}\n${stderr.slice(0, 4000)}`)) : res(stdout),
    ),
  );
  const report = JSON.parse(out.slice(out.indexOf('{'))) as Record<string, { before: Side; after: Side; ratioToLastByte: number }>;
  for (const model of ['gpt', 'nova']) {
    for (const side of [report[model].before, report[model].after]) {
      expect(side.requireMs).toBeGreaterThan(0);
      expect(side.firstRequestMs).toBeGreaterThan(0);
      expect(side.toLastByteMs).toBeCloseTo(side.requireMs + side.firstRequestMs, 0);
      // The handler returns after the last byte (after-invocation work included).
      expect(side.handlerReturnedMs).toBeGreaterThanOrEqual(side.toLastByteMs - 1);
    }
    expect(report[model].ratioToLastByte).toBeCloseTo(report[model].after.toLastByteMs / report[model].before.toLastByteMs, 1);
  }
});
