/**
 * `npm run demo` as a newcomer runs it (no keys, no network; shortened with DEMO_SECONDS=5), then its HTML
 * report in a real headless browser: Debian's chromium driven by puppeteer-core, every request that is
 * not the file itself refused (the page must be self-contained), no console errors, every chart drawn.
 * The screenshot is written to a temp folder (its path is printed).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

const REPO = join(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-test-'));
const report = join(dir, 'report.html');
let demo: { code: number; stdout: string; stderr: string };
let browser: Browser | undefined;

beforeAll(async () => {
  demo = await new Promise((done) => {
    execFile(
      process.execPath,
      [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'lambda', 'cli', 'demo.ts')],
      { cwd: REPO, env: { ...process.env, DEMO_SECONDS: '5', DEMO_REPORT: report, DEMO_DATA_DIR: join(dir, 'data') }, timeout: 180_000 },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}, 200_000);

afterAll(async () => {
  await browser?.close();
  if (!process.env.KEEP_DEMO_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('drives mock traffic with a progress bar, prints insights and budgets, writes the report', () => {
    expect(demo.stderr).not.toMatch(/demo failed/);
    expect(demo.code).toBe(0);
    expect(demo.stderr).toMatch(/\[#{30}\]\s+5s\/5s\s+\d+ requests/);
    expect(demo.stdout).toContain('Cheaper models of the same capability');
    // Which rows appear depends on how many requests five seconds allow on a loaded machine; the sections do not.
    expect(demo.stdout).toContain('Prompt caching: long prefixes resent without cache reads');
    expect(demo.stdout).toContain('Experiments (split aliases)');
    expect(demo.stdout).toContain('FORECAST_USD');
    expect(existsSync(report)).toBe(true);
  });
});

describe('The HTML report in headless Chromium', () => {
  it('renders every chart with no console errors and no network', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH.`);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1240, height: 1600 });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith('file://')) return void r.continue();
      external.push(r.url());
      void r.abort();
    });
    await page.goto(`file://${report}`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-charts="ready"]', { timeout: 10_000 });
    const canvases = await page.$$eval('canvas', (els) =>
      els.map((c) => {
        const canvas = c as HTMLCanvasElement;
        const ctx = canvas.getContext('2d')!;
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
        return { id: canvas.id, painted };
      }),
    );
    expect(canvases.map((c) => c.id)).toEqual(expect.arrayContaining(['spend-per-day', 'by-feature', 'top-customers', 'budget-0']));
    for (const c of canvases) expect({ id: c.id, drawn: c.painted > 500 }).toEqual({ id: c.id, drawn: true });
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    const shot = join(tmpdir(), `tollgate-report-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    process.stdout.write(`report screenshot: ${shot}\n`);
    expect(existsSync(shot)).toBe(true);
  });
});
