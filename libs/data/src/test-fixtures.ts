// Helpers shared by the specs (not exported from index.ts): hand-made CIFAR files in temp dirs.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { encodeCifar10Records, encodeCifar100Records } from './encode';
import { IMAGE_BYTES } from './layout';

/** The repository root, from this file's location (libs/data/src). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The shared real data, beside the repository (CI clones the repo with shared/ next to it). */
export const SHARED_DATA_DIR = path.resolve(REPO_ROOT, '../shared/data');

export const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const COARSE_NAMES = Array.from({ length: 20 }, (_, i) => `coarse_${i}`);
export const FINE_NAMES = Array.from({ length: 100 }, (_, i) => `fine_${i}`);

export async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cifar-data-spec-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * A deterministic NHWC image whose three channels differ: R = (p + k) mod 256,
 * G = (255 - p - 3k) mod 256, B = (7p + 11k) mod 256, p = y*32 + x.
 */
export function patternImage(k: number): Uint8Array {
  const img = new Uint8Array(IMAGE_BYTES);
  for (let p = 0; p < 1024; p++) {
    img[p * 3] = (p + k) & 255;
    img[p * 3 + 1] = (255 - p - 3 * k) & 255;
    img[p * 3 + 2] = (7 * p + 11 * k) & 255;
  }
  return img;
}

export function patternImages(first: number, count: number): Uint8Array {
  const out = new Uint8Array(count * IMAGE_BYTES);
  for (let i = 0; i < count; i++) out.set(patternImage(first + i), i * IMAGE_BYTES);
  return out;
}

/** Files of a tiny CIFAR-10: each batch holds `perBatch` pattern images; labels (batch*7 + i) % 10. */
export function cifar10Files(perBatch: number): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  files.set('batches.meta.txt', new TextEncoder().encode(`${CIFAR10_NAMES.join('\n')}\n\n`));
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  names.forEach((name, b) => {
    const labels = Array.from({ length: perBatch }, (_, i) => (b * 7 + i) % 10);
    files.set(name, encodeCifar10Records(patternImages(b * 1000, perBatch), labels));
  });
  return files;
}

/** Expected label of record i of the tiny CIFAR-10 train split built by {@link cifar10Files}. */
export function tinyTrainLabel(i: number, perBatch: number): number {
  const b = Math.floor(i / perBatch);
  return (b * 7 + (i % perBatch)) % 10;
}

/** Files of a tiny CIFAR-100 with the given (coarse, fine) pairs per record; image k = pattern(5000 + k). */
export function cifar100Files(train: Array<[number, number]>, test: Array<[number, number]>): Map<string, Uint8Array> {
  const enc = (pairs: Array<[number, number]>, first: number) =>
    encodeCifar100Records(
      patternImages(first, pairs.length),
      pairs.map(([c]) => c),
      pairs.map(([, f]) => f),
    );
  const files = new Map<string, Uint8Array>();
  files.set('fine_label_names.txt', new TextEncoder().encode(`${FINE_NAMES.join('\n')}\n`));
  files.set('coarse_label_names.txt', new TextEncoder().encode(`${COARSE_NAMES.join('\n')}\n`));
  files.set('train.bin', enc(train, 5000));
  files.set('test.bin', enc(test, 6000));
  return files;
}

export async function writeFolder(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, data] of files) await writeFile(path.join(dir, name), data);
}

/** Bytes of a .tar.gz holding `files` under `prefix/` (as the official archives do). */
export async function tarGz(files: Map<string, Uint8Array>, prefix: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: `${prefix}/`, type: 'directory' });
  pack.entry({ name: `${prefix}/readme.html`, size: 5 }, Buffer.from('hello'));
  for (const [name, data] of files) pack.entry({ name: `${prefix}/${name}`, size: data.byteLength }, Buffer.from(data));
  pack.finalize();
  return buffer(pack.pipe(createGzip()));
}
