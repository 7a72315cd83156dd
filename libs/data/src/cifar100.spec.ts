import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCifar100 } from './cifar100';
import { encodeCifar100Records } from './encode';
import { IMAGE_BYTES } from './layout';
import { expectDataError } from './spec-helpers';
import { COARSE_NAMES, FINE_NAMES, cifar100Files, makeTempDir, patternImage, removeDir, tarGz, writeFolder } from './test-fixtures';

const RECORD = 3074;
const TRAIN: Array<[number, number]> = [
  [13, 26],
  [4, 0],
  [13, 99],
  [18, 58],
  [13, 45],
];
const TEST: Array<[number, number]> = [
  [13, 77],
  [13, 79],
];

describe('loadCifar100', () => {
  let dir: string;
  let folder: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    folder = path.join(dir, 'cifar-100-binary');
    await writeFolder(folder, cifar100Files(TRAIN, TEST));
  });
  afterEach(() => removeDir(dir));

  it('reads coarse byte, fine byte and planar pixels of each 3074-byte record', async () => {
    const set = await loadCifar100(dir, 'train');
    expect(set.count).toBe(5);
    expect(Array.from(set.coarseLabels)).toEqual([13, 4, 13, 18, 13]);
    expect(Array.from(set.fineLabels)).toEqual([26, 0, 99, 58, 45]);
    expect(set.fineClassNames).toEqual(FINE_NAMES);
    expect(set.coarseClassNames).toEqual(COARSE_NAMES);
    expect(set.images.length).toBe(5 * IMAGE_BYTES);
    expect(set.images.subarray(3 * IMAGE_BYTES, 4 * IMAGE_BYTES)).toEqual(patternImage(5003));
    // pixel (0,0) of image 0: R = 5000 mod 256 = 136, G = (255 - 15000) mod 256 = 103, B = 55000 mod 256 = 216
    expect(Array.from(set.images.subarray(0, 3))).toEqual([136, 103, 216]);
    expect(set.source).toBe(path.join(folder, 'train.bin'));
    const test = await loadCifar100(dir, 'test');
    expect(Array.from(test.fineLabels)).toEqual([77, 79]);
  });

  it('limit keeps the first N records', async () => {
    const set = await loadCifar100(dir, 'train', { limit: 2 });
    expect(set.count).toBe(2);
    expect(Array.from(set.fineLabels)).toEqual([26, 0]);
    expect(set.images.length).toBe(2 * IMAGE_BYTES);
  });

  it('rejects a fine label > 99 with record and offset', async () => {
    const bytes = encodeCifar100Records(new Uint8Array(3 * IMAGE_BYTES), [1, 1, 1], [1, 1, 100]);
    await writeFile(path.join(folder, 'train.bin'), bytes);
    const err = await expectDataError(loadCifar100(dir, 'train', { limit: 1 }), 'E_DATA_LABEL');
    expect(err.record).toBe(2);
    expect(err.offset).toBe(2 * RECORD + 1);
    expect(err.file).toBe(path.join(folder, 'train.bin'));
    expect(err.message).toContain('fine label 100');
    expect(err.message).toContain(`byte offset ${2 * RECORD + 1}`);
  });

  it('rejects a coarse label > 19', async () => {
    const bytes = encodeCifar100Records(new Uint8Array(2 * IMAGE_BYTES), [1, 20], [1, 1]);
    await writeFile(path.join(folder, 'test.bin'), bytes);
    const err = await expectDataError(loadCifar100(dir, 'test'), 'E_DATA_LABEL');
    expect(err.record).toBe(1);
    expect(err.offset).toBe(RECORD);
    expect(err.message).toContain('coarse label 20');
  });

  it('rejects a coarse label that is not the fine class\'s superclass', async () => {
    const bytes = encodeCifar100Records(new Uint8Array(3 * IMAGE_BYTES), [13, 13, 12], [26, 45, 26]);
    await writeFile(path.join(folder, 'train.bin'), bytes);
    const err = await expectDataError(loadCifar100(dir, 'train'), 'E_DATA_LABEL');
    expect(err.record).toBe(2);
    expect(err.offset).toBe(2 * RECORD);
    expect(err.message).toContain('coarse label 12 does not match fine label 26');
  });

  it('rejects a size that is not whole records, naming the size', async () => {
    await writeFile(path.join(folder, 'train.bin'), new Uint8Array(RECORD + 3073));
    const err = await expectDataError(loadCifar100(dir, 'train'), 'E_DATA_SIZE');
    expect(err.message).toContain(`size ${RECORD + 3073} bytes`);
    expect(err.message).toContain('train.bin');
  });

  it('rejects missing name files', async () => {
    await writeFile(path.join(folder, 'coarse_label_names.txt'), COARSE_NAMES.slice(1).join('\n'));
    const err = await expectDataError(loadCifar100(dir, 'train'), 'E_DATA_NAMES');
    expect(err.message).toContain('coarse_label_names.txt');
    expect(err.message).toContain('found 19');
  });

  it('reads the same records from cifar-100-binary.tar.gz', async () => {
    const other = await makeTempDir();
    try {
      await writeFile(path.join(other, 'cifar-100-binary.tar.gz'), await tarGz(cifar100Files(TRAIN, TEST), 'cifar-100-binary'));
      const a = await loadCifar100(other, 'train');
      const b = await loadCifar100(dir, 'train');
      expect(a.images).toEqual(b.images);
      expect(a.fineLabels).toEqual(b.fineLabels);
      expect(a.coarseLabels).toEqual(b.coarseLabels);
      expect(a.source).toBe(`${path.join(other, 'cifar-100-binary.tar.gz')}!/cifar-100-binary/train.bin`);
    } finally {
      await removeDir(other);
    }
  });
});
