/**
 * The live run page: one HTML file (page.html, inline CSS and JS) that loads Vega and Vega-Lite
 * from `/static/`, follows `/events` and draws with Vega-Lite in the browser.
 */
import { readFile } from 'node:fs/promises';

/** Reads page.html from beside this module. @throws when the file is missing */
export async function loadPage(): Promise<Buffer> {
  return readFile(new URL('./page.html', import.meta.url));
}
