/**
 * Known-answer fixtures shared by the specs (not exported from index.ts).
 *
 * REFERENCE_TEST_CM is the reference lab report's CIFAR-10 test-set confusion matrix, copied
 * from /work/shared/reference/reference-results.json
 * (`phase1_cifar10.test_confusion_matrix_rows_true_cols_pred`, sklearn's rows = true, cols =
 * predicted). The repo keeps its own copy so tests never read outside the repository.
 */
export const REFERENCE_TEST_CM: number[][] = [
  [737, 16, 82, 9, 31, 8, 9, 16, 71, 21],
  [45, 771, 13, 10, 11, 3, 11, 11, 35, 90],
  [62, 3, 573, 57, 144, 58, 48, 35, 16, 4],
  [16, 2, 126, 460, 107, 149, 58, 53, 20, 9],
  [21, 2, 84, 45, 681, 19, 37, 97, 13, 1],
  [13, 2, 107, 166, 65, 555, 19, 68, 3, 2],
  [5, 3, 70, 58, 92, 25, 732, 10, 4, 1],
  [14, 1, 53, 31, 86, 57, 2, 750, 3, 3],
  [87, 27, 24, 13, 15, 5, 8, 3, 802, 16],
  [49, 82, 12, 18, 15, 7, 18, 34, 37, 728],
];

/** CIFAR-10 class names in label order (batches.meta.txt). */
export const CIFAR10_NAMES = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

/** Expands a confusion matrix back into (yTrue, yPred) label arrays, row by row. */
export function labelsFromMatrix(cm: number[][]): { yTrue: Int32Array; yPred: Int32Array } {
  const total = cm.reduce((acc, row) => acc + row.reduce((a, b) => a + b, 0), 0);
  const yTrue = new Int32Array(total);
  const yPred = new Int32Array(total);
  let k = 0;
  cm.forEach((row, t) =>
    row.forEach((count, p) => {
      for (let c = 0; c < count; c++, k++) {
        yTrue[k] = t;
        yPred[k] = p;
      }
    }),
  );
  return { yTrue, yPred };
}

/** Deterministic PRNG (mulberry32) so shard tests are reproducible. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
