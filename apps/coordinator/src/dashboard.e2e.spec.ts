import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA, startTrain } from './e2e-support.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('live run page of a real 2-worker run (headless Chromium)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  // CI sets REQUIRE_CHROMIUM=1: there a missing browser fails instead of skipping.
  it.skipIf(!existsSync(CHROMIUM) && process.env['REQUIRE_CHROMIUM'] !== '1')('shows both workers and a loss curve that grows while it trains', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-dash-'));
    dirs.push(out);
    const shots = process.env['DASHBOARD_SCREENSHOT_DIR'] ?? out;
    await mkdir(shots, { recursive: true });
    const run = startTrain([
      '--workers', '2', '--data-dir', DATA, '--out', out, '--epochs', '2', '--finetune-epochs', '0',
      '--train-limit', '1280', '--test-limit', '200', '--batch-size', '32', '--backend', 'wasm',
      '--no-eval-train', '--dashboard-port', '0',
    ]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const url = (await run.waitFor(/live run page: (http:\/\/127\.0\.0\.1:\d+\/?)/))[1] as string;
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => document.querySelectorAll('#workers tbody tr').length === 2, undefined, { timeout: 120_000 });
      const backends = await page.$$eval('#workers tbody tr', (rows) => rows.map((r) => r.textContent ?? ''));
      expect(backends.every((t) => t.includes('wasm'))).toBe(true);
      const points = (): Promise<number> => page.$eval('#loss-chart', (el) => Number(el.getAttribute('data-points') ?? 0));
      await page.waitForFunction(() => Number(document.querySelector('#loss-chart')?.getAttribute('data-points') ?? 0) >= 3, undefined, { timeout: 120_000 });
      const first = await points();
      await page.screenshot({ path: path.join(out, 'dashboard-1.png') });
      await page.waitForFunction((n) => Number(document.querySelector('#loss-chart')?.getAttribute('data-points') ?? 0) >= n + 5, first, { timeout: 120_000 });
      const second = await points();
      await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
      expect(second).toBeGreaterThan(first);
      expect(await page.$$eval('#loss-chart svg path', (p) => p.length)).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      expect(await run.exited).toBe(0);
    } finally {
      await browser.close();
      run.child.kill('SIGKILL');
    }
  }, 600_000);
});
