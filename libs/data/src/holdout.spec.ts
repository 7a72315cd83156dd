import { symlink, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar10';
import { IMAGE_BYTES } from './layout';
import { loadHoldoutSplit, splitHoldout } from './holdout';
import { makeTempDir, patternImages, removeDir, SHARED_DATA_DIR } from './test-fixtures';
import type { ImageSet } from './types';

function set(labels: number[]): ImageSet {
  return { images: patternImages(0, labels.length), labels: Uint8Array.from(labels), count: labels.length, classNames: ['a', 'b', 'c'] };
}

describe('splitHoldout', () => {
  it('holds out the last ceil(fraction x n) images of each class, in file order', () => {
    // class a: records 0 2 4 6 8 (5), b: 1 3 5 (3), c: 7 9 (2)
    const s = set([0, 1, 0, 1, 0, 1, 0, 2, 0, 2]);
    const { train, heldOut } = splitHoldout(s, 0.2);
    // a: ceil(1.0) = 1 held out (record 8); b: ceil(0.6) = 1 (record 5); c: ceil(0.4) = 1 (record 9)
    expect(Array.from(train.labels)).toEqual([0, 1, 0, 1, 0, 0, 2]);
    expect(Array.from(heldOut.labels)).toEqual([1, 0, 2]);
    expect(train.count + heldOut.count).toBe(10);
    // Images travel with their labels: held-out record 0 is source record 5.
    expect(Buffer.from(heldOut.images.subarray(0, IMAGE_BYTES)).equals(Buffer.from(s.images.subarray(5 * IMAGE_BYTES, 6 * IMAGE_BYTES)))).toBe(true);
    expect(Buffer.from(train.images.subarray(6 * IMAGE_BYTES)).equals(Buffer.from(s.images.subarray(7 * IMAGE_BYTES, 8 * IMAGE_BYTES)))).toBe(true);
    expect(train.classNames).toEqual(['a', 'b', 'c']);
  });

  it('holds out exactly 7 of 100 at 0.07 (no floating-point ceil), and refuses to leave a class empty', () => {
    const { heldOut } = splitHoldout(set(new Array<number>(100).fill(0)), 0.07);
    expect(heldOut.count).toBe(7);
    expect(() => splitHoldout(set([0, 0, 0, 1]), 0.2)).toThrow(/holding out 0.2 of class b \(1 images\) leaves none to train on/);
  });

  it('refuses a fraction outside (0, 1)', () => {
    for (const f of [0, 1, -0.1, Number.NaN]) expect(() => splitHoldout(set([0, 1]), f)).toThrow(/held-out fraction must be in \(0, 1\)/);
  });
});

describe('loadHoldoutSplit on the real data', () => {
  let trainOnly: string;

  beforeAll(async () => {
    // A data folder holding only the training files: reading a test file would fail.
    trainOnly = await makeTempDir();
    const c10 = path.join(trainOnly, 'cifar-10-batches-bin');
    const c100 = path.join(trainOnly, 'cifar-100-binary');
    await mkdir(c10);
    await mkdir(c100);
    for (const f of ['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']) {
      await symlink(path.join(SHARED_DATA_DIR, 'cifar-10-batches-bin', f), path.join(c10, f));
    }
    for (const f of ['coarse_label_names.txt', 'fine_label_names.txt', 'train.bin']) {
      await symlink(path.join(SHARED_DATA_DIR, 'cifar-100-binary', f), path.join(c100, f));
    }
  });
  afterAll(async () => removeDir(trainOnly));

  it('CIFAR-10: 4,000 + 1,000 per class at 0.2, read without any test file', async () => {
    await expect(loadCifar10(trainOnly, 'test')).rejects.toThrow(/test_batch\.bin/);
    const { train, heldOut } = await loadHoldoutSplit(trainOnly, 'cifar10', {}, 0.2);
    expect([train.count, heldOut.count]).toEqual([40000, 10000]);
    const perClass = new Array<number>(10).fill(0);
    for (const l of heldOut.labels) perClass[l] += 1;
    expect(perClass).toEqual(new Array<number>(10).fill(1000));
  });

  it('fine-tune: the added classes keep 400 and hold out 100 each', async () => {
    const { train, heldOut } = await loadHoldoutSplit(trainOnly, 'finetune', {}, 0.2);
    expect([train.count, heldOut.count]).toEqual([41600, 10400]);
    const perClass = new Array<number>(14).fill(0);
    for (const l of heldOut.labels) perClass[l] += 1;
    expect(perClass).toEqual([...new Array<number>(10).fill(1000), 100, 100, 100, 100]);
    expect(heldOut.classNames.slice(10)).toEqual(['lobster', 'snail', 'spider', 'worm']);
  });
});
