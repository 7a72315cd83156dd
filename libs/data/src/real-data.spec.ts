// Known answers on the real CIFAR data in ../shared/data (see its README.txt for the figures).
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar10';
import { loadCifar100 } from './cifar100';
import { CIFAR100_FINE_TO_COARSE, superclassMembers } from './cifar100-classes';
import { loadFinetuneDataset } from './finetune';
import { IMAGE_BYTES } from './layout';
import { CIFAR10_MEAN, CIFAR10_STD } from './normalize';
import { expectDataError, sameBytes } from './spec-helpers';
import { SHARED_DATA_DIR } from './test-fixtures';
import type { ImageSet } from './types';

function classCounts(labels: Uint8Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

describe('real CIFAR-10', () => {
  let train: ImageSet;
  beforeAll(async () => {
    train = await loadCifar10(SHARED_DATA_DIR, 'train');
  });

  it('train: 50,000 records, 5,000 per class, known first labels and red bytes', () => {
    expect(train.count).toBe(50000);
    expect(train.images.length).toBe(50000 * IMAGE_BYTES);
    expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(5000));
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    // red = channel 0 of NHWC: bytes 0, 3, 6, 9 are pixels (0,0)..(0,3)
    expect([train.images[0], train.images[3], train.images[6], train.images[9]]).toEqual([59, 43, 50, 68]);
    const red10 = Array.from({ length: 10 }, (_, x) => train.images[x * 3]);
    expect(red10).toEqual([59, 43, 50, 68, 98, 119, 139, 145, 149, 149]);
    expect(train.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  });

  it('train per-channel mean and std match the published figures', () => {
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    const { images } = train;
    for (let i = 0; i < images.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = images[i + c];
        sum[c] += v;
        sq[c] += v * v;
      }
    }
    const n = images.length / 3;
    for (let c = 0; c < 3; c++) {
      const mean = sum[c] / n;
      const std = Math.sqrt(sq[c] / n - mean * mean);
      expect(Math.abs(mean - CIFAR10_MEAN[c])).toBeLessThan(1e-3);
      expect(Math.abs(std - CIFAR10_STD[c])).toBeLessThan(1e-3);
    }
  });

  it('test: 10,000 records, 1,000 per class, known first labels', async () => {
    const test = await loadCifar10(SHARED_DATA_DIR, 'test');
    expect(test.count).toBe(10000);
    expect(classCounts(test.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
  });

  it('limit gives a prefix of the full set', async () => {
    const head = await loadCifar10(SHARED_DATA_DIR, 'train', { limit: 10005 });
    expect(head.count).toBe(10005);
    expect(sameBytes(head.labels, train.labels.subarray(0, 10005))).toBe(true);
    expect(sameBytes(head.images, train.images.subarray(0, 10005 * IMAGE_BYTES))).toBe(true);
    expect(sameBytes(head.images, train.images.subarray(0, 10006 * IMAGE_BYTES))).toBe(false);
  });
});

describe('real CIFAR-100 subset and the fine-tune set', () => {
  it('train holds 2,500 records of superclass 13; test 500', async () => {
    const train = await loadCifar100(SHARED_DATA_DIR, 'train');
    expect(train.count).toBe(2500);
    expect(train.coarseLabels.every((c) => c === 13)).toBe(true);
    expect(train.coarseClassNames[13]).toBe('non-insect_invertebrates');
    expect([26, 45, 77, 79, 99].map((f) => train.fineClassNames[f])).toEqual(['crab', 'lobster', 'snail', 'spider', 'worm']);
    expect(classCounts(train.fineLabels, 100).filter((n) => n > 0)).toEqual([500, 500, 500, 500, 500]);
    const test = await loadCifar100(SHARED_DATA_DIR, 'test');
    expect(test.count).toBe(500);
  });

  it('default spec on train: 52,000 records, 14 classes, 500 of each new class', async () => {
    const set = await loadFinetuneDataset(SHARED_DATA_DIR, 'train', {});
    expect(set.count).toBe(52000);
    expect(set.classNames).toHaveLength(14);
    expect(set.classNames.slice(10)).toEqual(['lobster', 'snail', 'spider', 'worm']);
    expect(classCounts(set.labels, 14)).toEqual([...new Array(10).fill(5000), 500, 500, 500, 500]);
    expect(Array.from(set.labels.subarray(0, 5))).toEqual([6, 9, 9, 4, 1]);
    expect(set.images.length).toBe(52000 * IMAGE_BYTES);
    expect([set.images[0], set.images[3], set.images[6], set.images[9]]).toEqual([59, 43, 50, 68]);
    // record 50,000 is the first lobster/snail/spider/worm record of cifar-100-binary/train.bin
    const c100 = await loadCifar100(SHARED_DATA_DIR, 'train');
    const first = c100.fineLabels.findIndex((f) => [45, 77, 79, 99].includes(f));
    expect(set.labels[50000]).toBe(10 + [45, 77, 79, 99].indexOf(c100.fineLabels[first]));
    expect(sameBytes(set.images.subarray(50000 * IMAGE_BYTES, 50001 * IMAGE_BYTES), c100.images.subarray(first * IMAGE_BYTES, (first + 1) * IMAGE_BYTES))).toBe(true);
  });

  it('superclass 13 on test: 5 classes including crab, 100 each', async () => {
    const set = await loadFinetuneDataset(SHARED_DATA_DIR, 'test', { superclass: 13 });
    expect(set.classNames.slice(10)).toEqual(['crab', 'lobster', 'snail', 'spider', 'worm']);
    expect(set.count).toBe(10000 + 500);
    expect(classCounts(set.labels, 15).slice(10)).toEqual([100, 100, 100, 100, 100]);
  });

  it("'apple' is E_DATA_EMPTY_CLASS naming the class and the file", async () => {
    const err = await expectDataError(loadFinetuneDataset(SHARED_DATA_DIR, 'train', { classes: ['apple'] }), 'E_DATA_EMPTY_CLASS');
    expect(err.message).toContain('apple');
    expect(err.file).toBe(path.join(SHARED_DATA_DIR, 'cifar-100-binary', 'train.bin'));
  });
});

describe('CIFAR-100 superclass table against the real names file', () => {
  it('superclass 13 is crab, lobster, snail, spider, worm; every superclass has five classes', async () => {
    const set = await loadCifar100(SHARED_DATA_DIR, 'test', { limit: 1 });
    expect(superclassMembers(13).map((f) => set.fineClassNames[f])).toEqual(['crab', 'lobster', 'snail', 'spider', 'worm']);
    expect(superclassMembers(4).map((f) => set.fineClassNames[f])).toEqual(['apple', 'mushroom', 'orange', 'pear', 'sweet_pepper']);
    expect(superclassMembers(17).map((f) => set.fineClassNames[f])).toEqual([
      'maple_tree',
      'oak_tree',
      'palm_tree',
      'pine_tree',
      'willow_tree',
    ]);
    expect(CIFAR100_FINE_TO_COARSE).toHaveLength(100);
    for (let c = 0; c < 20; c++) expect(superclassMembers(c)).toHaveLength(5);
  });
});
