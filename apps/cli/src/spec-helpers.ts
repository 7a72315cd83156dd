// Helpers shared by the specs (not used by the commands): temp dirs, PNG/JPEG fixtures made from
// real CIFAR-10 test records, tiny saved models, and running a command as a user would.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_BYTES, IMAGE_SIZE } from '@cifar-dist/data';
import { createModel, type tf } from '@cifar-dist/model';
import { saveLayersModel } from '@cifar-dist/training';
import { Jimp } from 'jimp';
import type { CommandIo } from './command-io.js';

/** The repository root, from this file's location (apps/cli/src). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The shared real data beside the repository (as in libs/data's specs). */
export const SHARED_DATA_DIR = path.resolve(REPO_ROOT, '../shared/data');

export function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cifar-cli-spec-'));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Record `i` of an NHWC uint8 batch (3072 bytes, a view). */
export function recordOf(images: Uint8Array, i: number): Uint8Array {
  return images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
}

/**
 * Writes one 32x32 RGB record as an image file (opaque), optionally resized first with jimp's
 * default resizer to `size`. The format follows the extension ('.png' or '.jpg').
 */
export async function writeRecordImage(record: Uint8Array, file: string, size?: { w: number; h: number }): Promise<void> {
  const rgba = Buffer.alloc(IMAGE_SIZE * IMAGE_SIZE * 4);
  for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
    rgba[p * 4] = record[p * 3];
    rgba[p * 4 + 1] = record[p * 3 + 1];
    rgba[p * 4 + 2] = record[p * 3 + 2];
    rgba[p * 4 + 3] = 255;
  }
  const image = Jimp.fromBitmap({ data: rgba, width: IMAGE_SIZE, height: IMAGE_SIZE });
  if (size) image.resize(size);
  const bytes = file.endsWith('.png') ? await image.getBuffer('image/png') : await image.getBuffer('image/jpeg', { quality: 95 });
  await writeFile(file, bytes);
}

/** An untrained reference network (seeded, so the weights are fixed) saved to `dir` as a run saves its models. */
export async function saveTinyModel(dir: string, numClasses: number, seed: number): Promise<tf.Sequential> {
  const model = createModel({ numClasses, seed });
  await saveLayersModel(model, dir);
  return model;
}

/** Collects a command's stdout/stderr in memory. */
export function captureIo(): CommandIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

/** Runs `npm run <script> -- <args>` as package.json will (tsx with apps/cli/tsconfig.json). */
export function runCli(script: 'predict' | 'evaluate', args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO_ROOT, `apps/cli/src/${script}.ts`), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO_ROOT, 'apps/cli/tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** argv as process.argv has it, for calling a command in-process. */
export function argv(...args: string[]): string[] {
  return ['node', 'cli', ...args];
}
