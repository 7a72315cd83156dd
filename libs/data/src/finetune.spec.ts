import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFineToCoarse, loadFinetuneDataset, mergeFinetune, selectFinetuneClasses } from './finetune';
import { IMAGE_BYTES } from './layout';
import { expectDataError, expectThrowsData } from './spec-helpers';
import type { Cifar100Set, ImageSet } from './types';
import {
  CIFAR10_NAMES,
  COARSE_NAMES,
  FINE_NAMES,
  cifar100Files,
  cifar10Files,
  makeTempDir,
  patternImage,
  removeDir,
  writeFolder,
} from './test-fixtures';

// Real fine names where the spec relies on them, fixture names elsewhere.
const FINE = FINE_NAMES.slice();
FINE[26] = 'crab';
FINE[45] = 'lobster';
FINE[77] = 'snail';
FINE[79] = 'spider';
FINE[99] = 'worm';
FINE[0] = 'apple';
const COARSE = COARSE_NAMES.slice();
COARSE[13] = 'non-insect_invertebrates';
COARSE[4] = 'fruit_and_vegetables';

function set100(pairs: Array<[number, number]>): Cifar100Set {
  const images = new Uint8Array(pairs.length * IMAGE_BYTES);
  pairs.forEach((_, i) => images.set(patternImage(100 + i), i * IMAGE_BYTES));
  return {
    images,
    coarseLabels: Uint8Array.from(pairs.map(([c]) => c)),
    fineLabels: Uint8Array.from(pairs.map(([, f]) => f)),
    count: pairs.length,
    fineClassNames: FINE,
    coarseClassNames: COARSE,
    source: '/data/cifar-100-binary/train.bin',
  };
}

// Superclass 13 in shuffled order plus one fruit record.
const SUBSET = set100([
  [13, 99],
  [13, 45],
  [4, 0],
  [13, 26],
  [13, 79],
  [13, 77],
  [13, 45],
]);

describe('selectFinetuneClasses', () => {
  it('defaults to the reference classes lobster, snail, spider, worm', () => {
    expect(selectFinetuneClasses({}, SUBSET)).toEqual([45, 77, 79, 99]);
  });

  it('keeps the given order of named classes', () => {
    expect(selectFinetuneClasses({ classes: ['worm', ' crab '] }, SUBSET)).toEqual([99, 26]);
  });

  it('takes all fine classes of a superclass in ascending index, by name, index or index string', () => {
    expect(selectFinetuneClasses({ superclass: 'non-insect_invertebrates' }, SUBSET)).toEqual([26, 45, 77, 79, 99]);
    expect(selectFinetuneClasses({ superclass: 13 }, SUBSET)).toEqual([26, 45, 77, 79, 99]);
    expect(selectFinetuneClasses({ superclass: '13' }, SUBSET)).toEqual([26, 45, 77, 79, 99]);
  });

  it('rejects unknown names and indices', () => {
    const e1 = expectThrowsData(() => selectFinetuneClasses({ classes: ['lobster', 'dragon'] }, SUBSET), 'E_DATA_UNKNOWN_CLASS');
    expect(e1.message).toContain('dragon');
    expectThrowsData(() => selectFinetuneClasses({ superclass: 'insects_and_stuff' }, SUBSET), 'E_DATA_UNKNOWN_CLASS');
    expectThrowsData(() => selectFinetuneClasses({ superclass: 20 }, SUBSET), 'E_DATA_UNKNOWN_CLASS');
    expectThrowsData(() => selectFinetuneClasses({ superclass: -1 }, SUBSET), 'E_DATA_UNKNOWN_CLASS');
  });

  it('rejects contradictory or empty specs', () => {
    expectThrowsData(() => selectFinetuneClasses({ classes: ['crab'], superclass: 13 }, SUBSET), 'E_DATA_SPEC');
    expectThrowsData(() => selectFinetuneClasses({ classes: [] }, SUBSET), 'E_DATA_SPEC');
    expectThrowsData(() => selectFinetuneClasses({ classes: ['crab', 'crab'] }, SUBSET), 'E_DATA_SPEC');
  });

  it('a superclass with no records is E_DATA_EMPTY_CLASS naming it, its first class and the file', () => {
    const err = expectThrowsData(() => selectFinetuneClasses({ superclass: 0 }, SUBSET), 'E_DATA_EMPTY_CLASS');
    expect(err.message).toContain("'coarse_0'");
    expect(err.message).toContain("'fine_4' (fine 4)"); // beaver, the first of 4, 30, 55, 72, 95
    expect(err.file).toBe('/data/cifar-100-binary/train.bin');
  });

  it('a superclass only partly present is E_DATA_EMPTY_CLASS, not a shorter class list', () => {
    // SUBSET holds apple (0) of fruit_and_vegetables but not mushroom (51), orange, pear, pepper
    const err = expectThrowsData(() => selectFinetuneClasses({ superclass: 'fruit_and_vegetables' }, SUBSET), 'E_DATA_EMPTY_CLASS');
    expect(err.message).toContain("'fine_51' (fine 51)");
    const noSnail = set100([
      [13, 26],
      [13, 45],
      [13, 79],
      [13, 99],
    ]);
    const e2 = expectThrowsData(() => selectFinetuneClasses({ superclass: 13 }, noSnail), 'E_DATA_EMPTY_CLASS');
    expect(e2.message).toContain("'snail'");
  });

  it('records that disagree with the CIFAR-100 superclass table are E_DATA_LABEL', () => {
    const wrong = set100([
      [13, 26],
      [13, 45],
      [13, 77],
      [13, 79],
      [13, 99],
      [13, 3],
    ]);
    expectThrowsData(() => selectFinetuneClasses({ superclass: 13 }, wrong), 'E_DATA_LABEL');
  });

  it('derives fine -> coarse from the labels', () => {
    const map = deriveFineToCoarse(SUBSET);
    expect(map[26]).toBe(13);
    expect(map[0]).toBe(4);
    expect(map[1]).toBe(-1);
  });
});

describe('mergeFinetune', () => {
  const base: ImageSet = {
    images: Uint8Array.from({ length: 2 * IMAGE_BYTES }, (_, i) => i % 251),
    labels: Uint8Array.from([3, 9]),
    count: 2,
    classNames: CIFAR10_NAMES,
  };

  it('appends the chosen records relabelled 10.. in file order', () => {
    const merged = mergeFinetune(base, SUBSET, [79, 45]);
    expect(merged.count).toBe(2 + 3);
    expect(Array.from(merged.labels)).toEqual([3, 9, 11, 10, 11]);
    expect(merged.classNames).toEqual([...CIFAR10_NAMES, 'spider', 'lobster']);
    expect(merged.images.subarray(0, 2 * IMAGE_BYTES)).toEqual(base.images);
    // SUBSET records 1, 4, 6 (lobster, spider, lobster) -> pattern images 101, 104, 106
    expect(merged.images.subarray(2 * IMAGE_BYTES, 3 * IMAGE_BYTES)).toEqual(patternImage(101));
    expect(merged.images.subarray(3 * IMAGE_BYTES, 4 * IMAGE_BYTES)).toEqual(patternImage(104));
    expect(merged.images.subarray(4 * IMAGE_BYTES)).toEqual(patternImage(106));
  });

  it('a chosen class with no records is E_DATA_EMPTY_CLASS naming class and file', () => {
    const err = expectThrowsData(() => mergeFinetune(base, SUBSET, [45, 3]), 'E_DATA_EMPTY_CLASS');
    expect(err.message).toContain("'fine_3'");
    expect(err.message).toContain('/data/cifar-100-binary/train.bin');
  });
});

describe('loadFinetuneDataset on hand-made files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
    await writeFolder(path.join(dir, 'cifar-10-batches-bin'), cifar10Files(2));
    // fixture names: fine_45 etc.; coarse 13 holds fine 26 and 45
    await writeFolder(
      path.join(dir, 'cifar-100-binary'),
      cifar100Files(
        [
          [13, 45],
          [13, 26],
          [7, 7],
          [13, 45],
          [13, 77],
          [13, 79],
          [13, 99],
        ],
        [[13, 26]],
      ),
    );
  });
  afterAll(() => removeDir(dir));

  it('limit applies to each source separately', async () => {
    const set = await loadFinetuneDataset(dir, 'train', { classes: ['fine_45'] }, { limit: 3, recordsPerBatch: 2 });
    // first 3 CIFAR-10 records + fine_45 among the first 3 CIFAR-100 records (only record 0)
    expect(set.count).toBe(4);
    expect(Array.from(set.labels)).toEqual([0, 1, 7, 10]);
    expect(set.classNames).toEqual([...CIFAR10_NAMES, 'fine_45']);
    expect(set.images.subarray(3 * IMAGE_BYTES)).toEqual(patternImage(5000));
  });

  it('superclass selection and the test split', async () => {
    const set = await loadFinetuneDataset(dir, 'train', { superclass: 13 }, { recordsPerBatch: 2 });
    expect(set.count).toBe(10 + 6);
    expect(Array.from(set.labels.subarray(10))).toEqual([11, 10, 11, 12, 13, 14]);
    expect(set.classNames.slice(10)).toEqual(['fine_26', 'fine_45', 'fine_77', 'fine_79', 'fine_99']);
    expect(set.images.subarray(10 * IMAGE_BYTES, 11 * IMAGE_BYTES)).toEqual(patternImage(5000));
    expect(set.images.subarray(15 * IMAGE_BYTES)).toEqual(patternImage(5006));
    const err = await expectDataError(
      loadFinetuneDataset(dir, 'test', { superclass: 13 }, { recordsPerBatch: 2 }),
      'E_DATA_EMPTY_CLASS',
    );
    expect(err.message).toContain('fine_45');
    expect(err.file).toBe(path.join(dir, 'cifar-100-binary', 'test.bin'));
  });

  it('a limit that cuts a named class off is E_DATA_EMPTY_CLASS', async () => {
    const err = await expectDataError(
      loadFinetuneDataset(dir, 'train', { classes: ['fine_99'] }, { limit: 4, recordsPerBatch: 2 }),
      'E_DATA_EMPTY_CLASS',
    );
    expect(err.message).toContain("'fine_99'");
    expect(err.message).toContain('4 records read');
  });
});
