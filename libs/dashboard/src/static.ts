/**
 * The browser builds of Vega and Vega-Lite, read from the local node_modules (no CDN), served
 * under `/static/<name>`. Only the names listed here exist; request paths never touch the disk.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/** URL name → [package, file in the directory of the package's main entry (its `build/`)]. */
const ASSETS: Record<string, readonly [string, string]> = {
  'vega.min.js': ['vega', 'vega.min.js'],
  'vega-lite.min.js': ['vega-lite', 'vega-lite.min.js'],
};

/** A file ready to send. */
export interface StaticAsset {
  contentType: string;
  body: Buffer;
}

/**
 * Absolute path of each asset (vega's `build/vega.min.js`, vega-lite's `build/vega-lite.min.js`;
 * neither package exports those paths, so they are found beside the resolved main entry).
 * @throws Error when a package or file is missing
 */
export function staticAssetPaths(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const paths: Record<string, string> = {};
  for (const [name, [pkg, file]] of Object.entries(ASSETS)) {
    const full = path.join(path.dirname(require.resolve(pkg)), file);
    if (!existsSync(full)) throw new Error(`dashboard: ${pkg} browser build not found at ${full}`);
    paths[name] = full;
  }
  return paths;
}

/**
 * Reads every asset into memory (about 0.8 MB together).
 * @throws Error when a package or file is missing (see staticAssetPaths)
 */
export async function loadStaticAssets(): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const [name, full] of Object.entries(staticAssetPaths())) {
    assets.set(name, { contentType: 'text/javascript; charset=utf-8', body: await readFile(full) });
  }
  return assets;
}
