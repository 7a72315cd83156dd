import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from './server.js';
import { START, WORKERS, step } from './test-support.js';
import type { DashboardSnapshot } from './types.js';

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A page plus everything it did that a test must see: console errors, requests leaving 127.0.0.1. */
interface Watched {
  page: Page;
  errors: string[];
  foreignRequests: string[];
}

async function openPage(browser: Browser, url: string): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  const foreignRequests: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') foreignRequests.push(req.url());
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors, foreignRequests };
}

async function waitForPoints(page: Page, id: string, n: number): Promise<void> {
  await page.waitForFunction(([sel, want]) => document.querySelector(sel)?.getAttribute('data-points') === want, [`#${id}`, String(n)] as const, {
    timeout: 20_000,
  });
}

/** Vertices of the line paths drawn in a chart (M and L commands of every `g.mark-line` path). */
function lineVertices(page: Page, id: string): Promise<number> {
  return page.$$eval(`#${id} svg g.mark-line.role-mark path`, (paths) =>
    paths.reduce((sum, p) => sum + (p.getAttribute('d')?.match(/[ML]/g)?.length ?? 0), 0),
  );
}

/** Total on-screen length, CSS px, of a chart's line paths. */
function lineLength(page: Page, id: string): Promise<number> {
  return page.$$eval(`#${id} svg g.mark-line.role-mark path`, (paths) => paths.reduce((sum, p) => sum + (p as SVGPathElement).getTotalLength(), 0));
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

// CI sets REQUIRE_CHROMIUM=1: there a missing browser fails instead of skipping.
describe.skipIf(!existsSync(CHROMIUM_PATH) && process.env['REQUIRE_CHROMIUM'] !== '1')('live page in Chromium', () => {
  let browser: Browser;
  let dash: Dashboard | null = null;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await dash?.close();
    dash = null;
  });

  it('shows workers, phase and status, and grows the charts as steps arrive', async () => {
    dash = await startDashboard({ port: 0 });
    for (const e of START) dash.publish(e);
    for (let i = 1; i <= 40; i++) dash.publish(step(i));
    const { page, errors, foreignRequests } = await openPage(browser, dash.url);

    await waitForPoints(page, 'loss-chart', 40);
    const rows = await page.$$eval('#workers tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['w-a', '0', 'wasm', 'cpu', '—', 'node-1', '4101'],
      ['w-b', '1', 'webgpu', 'NVIDIA H200', '1: nvidia hopper · NVIDIA 570.86.15', 'node-2', '4202'],
    ]);
    expect(await page.getAttribute('#phase', 'data-phase')).toBe('cifar10');
    expect(await page.textContent('#phase')).toBe('cifar10 · 10 classes · 3 epochs × 50 steps');
    expect(await page.textContent('#status')).toBe('training');
    expect(await page.textContent('#rate')).toBe('805 img/s'); // step 40: 800 + 40 % 7
    expect(await page.textContent('#progress')).toBe('cifar10 · epoch 1/3 · step 40/50 · #40');
    expect(await page.getAttribute('#accuracy-chart', 'data-points')).toBe('40');
    expect(await lineVertices(page, 'loss-chart')).toBe(40);
    const length1 = await lineLength(page, 'loss-chart');
    const shotDir = process.env.DASHBOARD_SCREENSHOT_DIR;
    if (shotDir) await mkdir(shotDir, { recursive: true });
    const shot1 = path.join(os.tmpdir(), 'dashboard-1.png');
    await page.screenshot({ path: shot1, fullPage: true });

    for (let i = 41; i <= 120; i++) dash.publish(step(i));
    dash.publish({ type: 'epoch', phase: 'cifar10', epoch: 1, loss: 0.9, accuracy: 0.6, testLoss: 1.0, testAccuracy: 0.55, seconds: 61, imagesPerSecond: 810 });
    dash.publish({ type: 'status', state: 'evaluating', message: 'epoch 2' });
    await waitForPoints(page, 'loss-chart', 120);
    await waitForPoints(page, 'test-chart', 1);
    expect(await lineVertices(page, 'loss-chart')).toBe(120);
    expect(await lineLength(page, 'loss-chart')).toBeGreaterThan(length1);
    expect(await page.getAttribute('#status', 'data-state')).toBe('evaluating');
    expect(await page.textContent('#status-message')).toBe('epoch 2');
    expect(await page.textContent('#last-epoch')).toBe('cifar10 e1: 55.0% (loss 1.0000) · 61 s');
    expect(await page.$$eval('#test-chart svg g.mark-symbol.role-mark path', (p) => p.length)).toBe(1);
    const shot2 = path.join(shotDir ?? os.tmpdir(), shotDir ? 'dashboard.png' : 'dashboard-2.png');
    await page.screenshot({ path: shot2, fullPage: true });
    expect(pngSize(await readFile(shot2)).width).toBe(1280);
    expect(pngSize(await readFile(shot1)).width).toBe(1280);

    expect(errors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    await page.close();
  });

  it('plots the moving average of the last 50 steps, says so on the axes, and keeps the last test point off the edge', async () => {
    dash = await startDashboard({ port: 0 });
    for (const e of START) dash.publish(e);
    const sent = Array.from({ length: 60 }, (_, i) => step(i + 1));
    for (const s of sent) dash.publish(s);
    for (const [epoch, testAccuracy] of [[1, 0.4], [2, 0.55], [3, 0.6]] as const) {
      dash.publish({ type: 'epoch', phase: 'cifar10', epoch, loss: 1, accuracy: 0.5, testLoss: 1, testAccuracy, seconds: 60, imagesPerSecond: 800 });
    }
    const { page, errors, foreignRequests } = await openPage(browser, dash.url);
    await waitForPoints(page, 'loss-chart', 60);
    await waitForPoints(page, 'test-chart', 3);

    const drawn = (name: string, field: string): Promise<number[]> =>
      page.evaluate(
        ([n, f]) =>
          (window as unknown as { cifarDashboard: { views: Record<string, { data(d: string): Record<string, number>[] }> } }).cifarDashboard.views[n]!
            .data('data')
            .map((d) => d[f]!),
        [name, field] as const,
      );
    expect(await drawn('loss', 'avgLoss')).toEqual(sent.map((s) => s.avgLoss));
    expect(await drawn('accuracy', 'avgAccuracy')).toEqual(sent.map((s) => s.avgAccuracy));
    const axisTitles = (id: string): Promise<string[]> => page.$$eval(`#${id} svg g.role-axis-title text`, (ts) => ts.map((t) => t.textContent ?? ''));
    expect(await axisTitles('loss-chart')).toContain('loss (mean of the last 50 steps)');
    expect(await axisTitles('accuracy-chart')).toContain('accuracy (mean of the last 50 steps)');
    expect(await page.textContent('#loss-caption')).toBe('training loss per step (mean of the last 50 steps, across epochs)');
    expect(await page.textContent('#last-step')).toBe(
      `loss ${sent[59]!.loss.toFixed(4)} · acc 50.0% (mean of last 50: ${sent[59]!.avgLoss.toFixed(4)} · 47.5%) · lr 0.05000 · 2 workers`,
    );

    // x runs from half an epoch before the first point to half an epoch after the last: on a
    // 500 px wide plot the 3 points sit at 1/6, 3/6 and 5/6 of it, none on an edge.
    const xs = await page.$$eval('#test-chart svg g.mark-symbol.role-mark path', (ps) =>
      ps.map((p) => Number(/translate\(([-\d.]+),/.exec(p.getAttribute('transform') ?? '')?.[1])),
    );
    expect(xs).toHaveLength(3);
    [500 / 6, 250, 2500 / 6].forEach((want, i) => expect(xs[i]).toBeCloseTo(want, 0));
    expect(errors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    await page.close();
  });

  it('thins steps exactly like the server and starts over on a new run', async () => {
    dash = await startDashboard({ port: 0, maxSteps: 16 });
    for (const e of START) dash.publish(e);
    for (let i = 1; i <= 100; i++) dash.publish(step(i));
    const { page, errors, foreignRequests } = await openPage(browser, dash.url);
    const stateNow = async (): Promise<DashboardSnapshot> => (await fetch(new URL('/state', dash!.url))).json() as Promise<DashboardSnapshot>;

    // The page thins on its own, seeded from the snapshot: its points must stay the server's.
    const drawnSteps = (): Promise<number[]> =>
      page.evaluate(() =>
        (window as unknown as { cifarDashboard: { views: Record<string, { data(n: string): { step: number }[] }> } }).cifarDashboard.views
          .loss!.data('data')
          .map((d) => d.step),
      );
    const expectSameSteps = async (want: number[]): Promise<void> => {
      expect((await stateNow()).steps.map((s) => s.step)).toEqual(want);
      await expect.poll(drawnSteps, { timeout: 10_000 }).toEqual(want);
      expect(await page.getAttribute('#loss-chart', 'data-points')).toBe(String(want.length));
      expect(await lineVertices(page, 'loss-chart')).toBe(want.length);
    };
    await expectSameSteps([1, 9, 17, 25, 33, 41, 49, 57, 65, 73, 81, 89, 97]);
    for (let i = 101; i <= 137; i++) dash.publish(step(i));
    await expectSameSteps([1, 17, 33, 49, 65, 81, 97, 113, 129]);
    for (let i = 138; i <= 150; i++) dash.publish(step(i));
    await expectSameSteps([1, 17, 33, 49, 65, 81, 97, 113, 129, 145]);
    await waitForPoints(page, 'accuracy-chart', 10);

    dash.publish({ ...START[0]!, runId: 'run-2' } as (typeof START)[0]);
    await waitForPoints(page, 'loss-chart', 0);
    expect(await page.textContent('#run-id')).toBe('run-2');
    expect(await page.$$eval('#workers tbody tr', (trs) => trs.length)).toBe(0);
    expect(errors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    await page.close();
  });
});
