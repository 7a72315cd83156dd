import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRunArtifacts } from './artifacts.js';
import { hasChromium, inspectReportPage } from './browser-check.js';
import { fixtureReport } from './test-fixtures.js';

/** Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('report.html in Chromium', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-browser-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasChromium())('lays out every chart with its marks, loads nothing, and screenshots the page', async () => {
    const report = fixtureReport();
    const [htmlFile] = await writeRunArtifacts(dir, report);
    // REPORT_SCREENSHOT_DIR=docs keeps the picture for the README; by default it goes to the temp dir.
    const shotDir = process.env.REPORT_SCREENSHOT_DIR ?? os.tmpdir();
    await mkdir(shotDir, { recursive: true });
    const shot = path.join(shotDir, 'report.png');
    const view = await inspectReportPage(htmlFile!, shot);

    expect(view.externalRequests).toEqual([]);
    expect(view.errors).toEqual([]);
    expect(view.charts.map((c) => c.title)).toEqual(
      report.phases.flatMap((p) => [`${p.name}: loss per epoch`, `${p.name}: accuracy per epoch`, `${p.name}: test confusion matrix`]),
    );
    for (const chart of view.charts) {
      expect(chart.width, chart.title).toBeGreaterThan(100);
      expect(chart.height, chart.title).toBeGreaterThan(100);
      expect(chart.paths + chart.rects, chart.title).toBeGreaterThan(0);
    }
    report.phases.forEach((phase, i) => {
      const [loss, accuracy, heatmap] = view.charts.slice(3 * i, 3 * i + 3);
      for (const curve of [loss!, accuracy!]) {
        expect(curve.lineMarks, curve.title).toBe(2); // train and test
        expect(curve.pointMarks, curve.title).toBe(2 * phase.history.length);
      }
      expect(heatmap!.rectMarks, heatmap!.title).toBe(phase.numClasses ** 2);
    });

    const size = pngSize(await readFile(shot));
    expect(size.width).toBe(1200);
    expect(size.height).toBe(view.pageHeight);
    expect(size.height).toBeGreaterThan(900);
  });
});
