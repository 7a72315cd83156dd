import { CifarDataError } from './errors';
import { IMAGE_BYTES } from './layout';
import { loadCifar10 } from './cifar10';
import { loadFinetuneDataset } from './finetune';
import type { FinetuneSpec, ImageSet, LoadOptions } from './types';

/**
 * Splits a training set into the part that trains and a held-out part for every choice of
 * recipe (the test sets are never used for choosing). Per class, the last
 * ceil(fraction x count) records in file order are held out, so both parts keep the class
 * proportions: with fraction 0.2, CIFAR-10 keeps 4,000 of each class's 5,000 training images
 * and holds out 1,000; each added CIFAR-100 class keeps 400 of 500 and holds out 100.
 *
 * @param set images NHWC uint8 [count, 32, 32, 3] with labels indexing `set.classNames`
 * @param fraction share of each class held out, in (0, 1)
 * @returns two new sets (copies) with the same classNames, records in their original order
 * @throws CifarDataError E_DATA_ARGUMENT when fraction is not in (0, 1), or a class would keep no
 *   training image
 */
export function splitHoldout(set: ImageSet, fraction: number): { train: ImageSet; heldOut: ImageSet } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new CifarDataError('E_DATA_ARGUMENT', `the held-out fraction must be in (0, 1), got ${fraction}`);
  }
  const classes = set.classNames.length;
  const total = new Array<number>(classes).fill(0);
  for (let i = 0; i < set.count; i++) total[set.labels[i] as number] += 1;
  // ceil with a hair of slack: 0.07 x 100 is 7.000000000000001 in floating point, and holds out 7.
  const keep = total.map((n) => n - Math.ceil(n * fraction - 1e-9));
  keep.forEach((k, c) => {
    if (k < 1 && (total[c] as number) > 0) {
      throw new CifarDataError('E_DATA_ARGUMENT', `holding out ${fraction} of class ${set.classNames[c]} (${total[c]} images) leaves none to train on`);
    }
  });
  const trainCount = keep.reduce((a, b) => a + b, 0);
  const make = (count: number): ImageSet => ({
    images: new Uint8Array(count * IMAGE_BYTES),
    labels: new Uint8Array(count),
    count,
    classNames: [...set.classNames],
  });
  const train = make(trainCount);
  const heldOut = make(set.count - trainCount);
  // The first keep[c] images of class c train, the rest are held out.
  const seen = new Array<number>(classes).fill(0);
  const next = [0, 0];
  for (let i = 0; i < set.count; i++) {
    const c = set.labels[i] as number;
    const part = (seen[c] as number) < (keep[c] as number) ? 0 : 1;
    seen[c] += 1;
    const dst = part === 0 ? train : heldOut;
    const j = next[part] as number;
    dst.labels[j] = c;
    dst.images.set(set.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), j * IMAGE_BYTES);
    next[part] = j + 1;
  }
  return { train, heldOut };
}

/**
 * The training data of one phase split into its training and held-out parts
 * ({@link splitHoldout}). Reads only the training files (`data_batch_*.bin`, CIFAR-100
 * `train.bin`): the code that chooses a recipe loads its data through here and never opens a
 * test file.
 *
 * @param phase 'cifar10' (10 classes) or 'finetune' (CIFAR-10 + the classes of `spec`)
 * @param opts.limit first N training records of each source, before the split
 * @throws CifarDataError as loadCifar10 / loadFinetuneDataset / splitHoldout
 */
export async function loadHoldoutSplit(
  dataDir: string,
  phase: 'cifar10' | 'finetune',
  spec: FinetuneSpec,
  fraction: number,
  opts: LoadOptions = {},
): Promise<{ train: ImageSet; heldOut: ImageSet }> {
  const all = phase === 'cifar10' ? await loadCifar10(dataDir, 'train', opts) : await loadFinetuneDataset(dataDir, 'train', spec, opts);
  return splitHoldout(all, fraction);
}
