import { readCifar10 } from './cifar10';
import { CIFAR100_FINE_CLASSES, loadCifar100 } from './cifar100';
import { superclassMembers } from './cifar100-classes';
import { CifarDataError } from './errors';
import { IMAGE_BYTES } from './layout';
import type { Cifar100Set, FinetuneSpec, ImageSet, LoadOptions, Split } from './types';

/** The reference report's fine-tune classes (labels 10..13), all from superclass 13. */
export const DEFAULT_FINETUNE_CLASSES: readonly string[] = ['lobster', 'snail', 'spider', 'worm'];

/**
 * The coarse class of each fine class as the loaded records have it (-1 for a fine class with
 * no records).
 */
export function deriveFineToCoarse(cifar100: Cifar100Set): Int16Array {
  const map = new Int16Array(CIFAR100_FINE_CLASSES).fill(-1);
  for (let i = 0; i < cifar100.count; i++) map[cifar100.fineLabels[i]] = cifar100.coarseLabels[i];
  return map;
}

function describeSource(cifar100: Cifar100Set): string {
  return cifar100.source ?? 'the loaded CIFAR-100 records';
}

function resolveSuperclass(superclass: string | number, coarseNames: readonly string[]): number {
  const asIndex =
    typeof superclass === 'number' ? superclass : /^\s*\d+\s*$/.test(superclass) ? Number(superclass) : undefined;
  if (asIndex !== undefined) {
    if (!Number.isInteger(asIndex) || asIndex < 0 || asIndex >= coarseNames.length) {
      throw new CifarDataError(
        'E_DATA_UNKNOWN_CLASS',
        `unknown CIFAR-100 superclass index ${String(superclass)} (valid: 0..${coarseNames.length - 1})`,
      );
    }
    return asIndex;
  }
  const name = String(superclass).trim();
  const index = coarseNames.indexOf(name);
  if (index < 0) {
    throw new CifarDataError(
      'E_DATA_UNKNOWN_CLASS',
      `unknown CIFAR-100 superclass '${name}' (known: ${coarseNames.join(', ')})`,
    );
  }
  return index;
}

/**
 * Which CIFAR-100 fine classes the fine-tune adds, in label order (the first becomes label 10).
 *
 * - `spec.classes`: fine class names (surrounding spaces ignored), in the order given.
 * - `spec.superclass`: coarse name (e.g. 'non-insect_invertebrates'), index (13) or index string
 *   ('13'): its five fine classes in ascending fine index. Membership is CIFAR-100's fixed table
 *   (CIFAR100_FINE_TO_COARSE); the fine -> coarse map derived from `cifar100`'s labels must agree
 *   with it and hold every member.
 * - neither: {@link DEFAULT_FINETUNE_CLASSES}.
 *
 * @returns fine class indices 0..99
 * @throws CifarDataError E_DATA_UNKNOWN_CLASS (unknown class or superclass), E_DATA_SPEC (both
 *   given, empty or duplicate class list), E_DATA_EMPTY_CLASS (a class of the superclass has no
 *   records in `cifar100`, e.g. any superclass but 13 with the shared subset), E_DATA_LABEL (the
 *   records file a fine class under a different superclass)
 */
export function selectFinetuneClasses(spec: FinetuneSpec, cifar100: Cifar100Set): number[] {
  if (spec.classes !== undefined && spec.superclass !== undefined) {
    throw new CifarDataError('E_DATA_SPEC', 'give fine-tune classes or a superclass, not both');
  }
  if (spec.superclass !== undefined) {
    const coarse = resolveSuperclass(spec.superclass, cifar100.coarseClassNames);
    const members = superclassMembers(coarse);
    // Membership is CIFAR-100's fixed table; the records must agree with it and hold every
    // member, or the class list would silently shrink with the split, a subset or a limit.
    const fineToCoarse = deriveFineToCoarse(cifar100);
    for (let f = 0; f < fineToCoarse.length; f++) {
      if (fineToCoarse[f] !== -1 && (fineToCoarse[f] === coarse) !== members.includes(f)) {
        throw new CifarDataError(
          'E_DATA_LABEL',
          `${describeSource(cifar100)} files fine class ${f} under superclass ${fineToCoarse[f]}; CIFAR-100 files it under ${
            members.includes(f) ? coarse : 'another superclass'
          }`,
          cifar100.source === undefined ? {} : { file: cifar100.source },
        );
      }
    }
    const missing = members.find((f) => fineToCoarse[f] === -1);
    if (missing !== undefined) {
      throw new CifarDataError(
        'E_DATA_EMPTY_CLASS',
        `CIFAR-100 superclass '${cifar100.coarseClassNames[coarse]}' (${coarse}): its class ` +
          `'${cifar100.fineClassNames[missing]}' (fine ${missing}) has no records in ${describeSource(cifar100)}` +
          ` (${cifar100.count} records read)`,
        cifar100.source === undefined ? {} : { file: cifar100.source },
      );
    }
    return members;
  }
  const names = (spec.classes ?? DEFAULT_FINETUNE_CLASSES).map((n) => n.trim());
  if (names.length === 0) {
    throw new CifarDataError('E_DATA_SPEC', 'the fine-tune class list is empty');
  }
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new CifarDataError('E_DATA_SPEC', `fine-tune class '${name}' is listed twice`);
    seen.add(name);
    const index = cifar100.fineClassNames.indexOf(name);
    if (index < 0) {
      throw new CifarDataError('E_DATA_UNKNOWN_CLASS', `unknown CIFAR-100 fine class '${name}'`);
    }
    return index;
  });
}

/**
 * Counts the records of each chosen fine class and fails on the first class with none.
 * @returns records per chosen class, in the order of `fineClasses`
 * @throws CifarDataError E_DATA_EMPTY_CLASS naming the class and the file
 */
export function requireFinetuneRecords(cifar100: Cifar100Set, fineClasses: readonly number[]): number[] {
  const slot = new Int16Array(CIFAR100_FINE_CLASSES).fill(-1);
  fineClasses.forEach((fine, j) => {
    slot[fine] = j;
  });
  const perClass = new Array<number>(fineClasses.length).fill(0);
  for (let i = 0; i < cifar100.count; i++) {
    const j = slot[cifar100.fineLabels[i]];
    if (j >= 0) perClass[j]++;
  }
  const empty = perClass.findIndex((n) => n === 0);
  if (empty >= 0) {
    const fine = fineClasses[empty];
    throw new CifarDataError(
      'E_DATA_EMPTY_CLASS',
      `CIFAR-100 class '${cifar100.fineClassNames[fine]}' (fine ${fine}) has no records in ${describeSource(cifar100)}` +
        ` (${cifar100.count} records read)`,
      cifar100.source === undefined ? {} : { file: cifar100.source },
    );
  }
  return perClass;
}

/**
 * Appends the records of the chosen CIFAR-100 fine classes to a CIFAR-10 set, relabelled
 * 10, 11, ... in the order of `fineClasses`. CIFAR-10 records come first, then the CIFAR-100 ones
 * in file order.
 *
 * @throws CifarDataError E_DATA_EMPTY_CLASS naming the first chosen class with no records
 */
export function mergeFinetune(cifar10: ImageSet, cifar100: Cifar100Set, fineClasses: readonly number[]): ImageSet {
  const extra = requireFinetuneRecords(cifar100, fineClasses).reduce((a, b) => a + b, 0);
  const count = cifar10.count + extra;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  images.set(cifar10.images.subarray(0, cifar10.count * IMAGE_BYTES));
  labels.set(cifar10.labels.subarray(0, cifar10.count));
  appendFinetuneRecords(images, labels, cifar10.count, cifar100, fineClasses, cifar10.classNames.length);
  const classNames = [...cifar10.classNames, ...fineClasses.map((f) => cifar100.fineClassNames[f])];
  return { images, labels, count, classNames };
}

/**
 * Writes the records of `fineClasses` (file order) at record `start` of `images` / `labels`,
 * labelled `base + j` for the j-th chosen class. The arrays must have room. Returns the end record.
 */
function appendFinetuneRecords(
  images: Uint8Array,
  labels: Uint8Array,
  start: number,
  cifar100: Cifar100Set,
  fineClasses: readonly number[],
  base: number,
): number {
  const newLabel = new Int16Array(CIFAR100_FINE_CLASSES).fill(-1);
  fineClasses.forEach((fine, j) => {
    newLabel[fine] = base + j;
  });
  let k = start;
  for (let i = 0; i < cifar100.count; i++) {
    const label = newLabel[cifar100.fineLabels[i]];
    if (label < 0) continue;
    labels[k] = label;
    images.set(cifar100.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), k * IMAGE_BYTES);
    k++;
  }
  return k;
}

/**
 * The fine-tune dataset: a CIFAR-10 split plus the chosen CIFAR-100 fine classes (see
 * {@link selectFinetuneClasses}) relabelled 10, 11, ... in order. classNames = the 10 CIFAR-10
 * names + the chosen fine names. With the reference default on the train split and the shared
 * data: 50,000 + 4 x 500 = 52,000 records, 14 classes.
 *
 * @param opts.limit applies to each source separately: the first N CIFAR-10 records, and the
 *   first N records of the CIFAR-100 file before filtering by class
 * @param opts.recordsPerBatch passed to {@link loadCifar10}
 * @returns images NHWC uint8 [count, 32, 32, 3], labels 0..9+k
 * @throws CifarDataError as loadCifar10 / loadCifar100 / selectFinetuneClasses, and
 *   E_DATA_EMPTY_CLASS when a chosen class has no records in the CIFAR-100 file (e.g. 'apple'
 *   with the shared one-superclass subset)
 */
export async function loadFinetuneDataset(
  dataDir: string,
  split: Split,
  spec: FinetuneSpec,
  opts: LoadOptions = {},
): Promise<ImageSet> {
  // CIFAR-100 first: a bad class spec fails before the larger CIFAR-10 read.
  const cifar100 = await loadCifar100(dataDir, split, { limit: opts.limit });
  const fineClasses = selectFinetuneClasses(spec, cifar100);
  const extra = requireFinetuneRecords(cifar100, fineClasses).reduce((a, b) => a + b, 0);
  // CIFAR-10 is decoded straight into arrays with room for the extra records (no second copy).
  const cifar10 = await readCifar10(dataDir, split, opts, extra);
  const end = appendFinetuneRecords(cifar10.images, cifar10.labels, cifar10.count, cifar100, fineClasses, cifar10.classNames.length);
  const classNames = [...cifar10.classNames, ...fineClasses.map((f) => cifar100.fineClassNames[f])];
  return { images: cifar10.images, labels: cifar10.labels, count: end, classNames };
}
