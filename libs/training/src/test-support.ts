import { gatherBatch, loadCifar10, type ImageSet } from '@cifar-dist/data';
import { defaultConfig, type TrainConfig } from './config.js';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file (libs/training/src). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The real CIFAR data beside the repository (CI lays shared/ there). */
export const SHARED_DATA = path.resolve(REPO_ROOT, '../shared/data');

/** Ten placeholder class names for synthetic sets. */
export const CLASS_NAMES = Array.from({ length: 10 }, (_, c) => `class${c}`);

/**
 * `count` deterministic pseudo-random images (a fixed LCG seeded by `salt`), labels cycling over
 * the 10 classes: a training set for tests and scripts that need no real pixels.
 */
export function syntheticSet(count: number, salt: number): ImageSet {
  const images = new Uint8Array(count * 3072);
  let x = (0x9e3779b9 ^ salt) >>> 0;
  for (let i = 0; i < images.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    images[i] = x >>> 24;
  }
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + salt) % 10);
  return { images, labels, count, classNames: CLASS_NAMES };
}

/** V8's full collector, exposed at run time (vitest's forks do not pass --expose-gc); null where refused. */
export function exposeGc(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * A small training config for tests that compare runs bit for bit without --deterministic: no
 * augmentation, dropout or training-set evaluation, a constant learning rate of 0.001, and equal
 * shards (shard sizes that follow measured, timing-dependent worker speeds would change the sums).
 */
export function comparableConfig(overrides: Partial<TrainConfig>): TrainConfig {
  return defaultConfig({
    augment: false,
    dropout: false,
    balanceShards: false,
    evaluateTrain: false,
    schedule: { lr: 0.001, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
    ...overrides,
  });
}

/** Every file under `dir` with its sha256, by relative path: equal trees are byte-identical. */
export function fileTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full, `${rel}${name}/`);
      else out[`${rel}${name}`] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** ||a - b|| / ||a|| (L2, in double): how far b is from a, relative to a's size. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += ((a[i] as number) - (b[i] as number)) ** 2;
    norm += (a[i] as number) ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** The first 200 real CIFAR-10 training images split 160 / 40: a small train and test set. */
export async function smallCifar(): Promise<{ train: ImageSet; test: ImageSet }> {
  const full = await loadCifar10(SHARED_DATA, 'train', { limit: 200 });
  return {
    train: { ...gatherBatch(full, Array.from({ length: 160 }, (_, i) => i)), classNames: full.classNames },
    test: { ...gatherBatch(full, Array.from({ length: 40 }, (_, i) => 160 + i)), classNames: full.classNames },
  };
}
