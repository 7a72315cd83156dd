import type { ImageSet } from '@cifar-dist/data';
import { defaultConfig, type TrainConfig } from './config.js';
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
