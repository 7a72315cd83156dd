/**
 * Opens a written report.html in headless Debian Chromium (playwright-core) and measures what a
 * person would see: per chart its on-screen box and its Vega marks. Test support, not exported
 * from index.ts (playwright-core is a dev dependency).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/** Where Debian's `apt-get install chromium` puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** True when the browser is installed (the browser test is skipped otherwise). */
/** Chromium is there, or CI demands it (REQUIRE_CHROMIUM=1): then a missing browser fails the test instead of skipping it. */
export const hasChromium = (): boolean => existsSync(CHROMIUM_PATH) || process.env['REQUIRE_CHROMIUM'] === '1';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** One inlined chart as laid out by the browser; sizes in CSS pixels, counts of SVG elements. */
export interface ChartView {
  /** The chart's title text. */
  title: string;
  width: number;
  height: number;
  /** `<path>` items of Vega line marks (one per series). */
  lineMarks: number;
  /** `<path>` items of Vega point (symbol) marks (one per data point). */
  pointMarks: number;
  /** `<path>` items of Vega rect marks (one per heatmap cell). */
  rectMarks: number;
  /** All `<path>` and `<rect>` elements of the SVG. */
  paths: number;
  rects: number;
}

/** What the page did in the browser. */
export interface PageView {
  charts: ChartView[];
  /** URLs of every request other than the page itself (file:) and data: URLs; must be empty offline. */
  externalRequests: string[];
  /** Console errors and uncaught page errors (a CSP violation shows up here). */
  errors: string[];
  /** The page's full scroll height, CSS pixels. */
  pageHeight: number;
}

/**
 * Loads `htmlFile` through file:// in a fresh headless Chromium (viewport `width`×900), collects
 * a ChartView per `figure > svg`, and saves a PNG screenshot of the whole page to `screenshotFile`.
 * @throws when Chromium is missing (see hasChromium) or the page does not load
 */
export async function inspectReportPage(htmlFile: string, screenshotFile: string, width = 1200): Promise<PageView> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    const externalRequests: string[] = [];
    const errors: string[] = [];
    const pageUrl = pathToFileURL(htmlFile).href;
    page.on('request', (req) => {
      const url = req.url();
      if (url !== pageUrl && !url.startsWith('data:')) externalRequests.push(url);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(pageUrl, { waitUntil: 'load' });
    // No named helpers inside the callback: tsx (esbuild keepNames) would wrap them in a
    // `__name` call that does not exist in the page.
    const charts = await page.$$eval('figure > svg', (svgs) =>
      svgs.map((svg) => ({
        title: svg.querySelector('.role-title-text text')?.textContent ?? '',
        width: svg.getBoundingClientRect().width,
        height: svg.getBoundingClientRect().height,
        lineMarks: svg.querySelectorAll('g.mark-line.role-mark > path').length,
        pointMarks: svg.querySelectorAll('g.mark-symbol.role-mark > path').length,
        rectMarks: svg.querySelectorAll('g.mark-rect.role-mark > path').length,
        paths: svg.querySelectorAll('path').length,
        rects: svg.querySelectorAll('rect').length,
      })),
    );
    const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.screenshot({ path: screenshotFile, fullPage: true });
    return { charts, externalRequests, errors, pageHeight };
  } finally {
    await browser.close();
  }
}
