import { createHash } from 'node:crypto';
import { mkdir, rename, rm, open } from 'node:fs/promises';
import path from 'node:path';

/** sha256 of bytes, hex. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `data` to `file` and fsyncs it before returning. */
async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `file` atomically: a temp file in the same folder, fsync, then rename over the target,
 * so a crash leaves either the old content or the new one, never a torn file.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeSynced(tmp, data);
  await rename(tmp, file);
}

/**
 * Writes a folder of files atomically: into `<dir>.tmp-*`, then one rename. An existing `dir` is
 * replaced (moved aside first, removed after the rename succeeded).
 */
export async function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) await writeSynced(path.join(tmp, name), data);
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  let moved = false;
  try {
    await rename(dir, old);
    moved = true;
  } catch {
    // no previous folder
  }
  await rename(tmp, dir);
  if (moved) await rm(old, { recursive: true, force: true });
}

