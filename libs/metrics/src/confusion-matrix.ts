import { MetricsError } from './errors.js';

/**
 * Checks that `numClasses` is a usable class count.
 *
 * @throws MetricsError E_METRICS_VALUE unless `numClasses` is a positive safe integer.
 */
export function assertNumClasses(numClasses: number): void {
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new MetricsError('E_METRICS_VALUE', `numClasses must be a positive integer, got ${numClasses}`);
  }
}

/**
 * Checks paired label arrays before anything is counted, so a bad batch changes nothing.
 *
 * @throws MetricsError E_METRICS_SHAPE on `yTrue.length !== yPred.length`;
 *         E_METRICS_LABEL on a label that is not an integer in [0, numClasses) (the message names
 *         the array and the index).
 */
export function assertLabels(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): void {
  if (yTrue.length !== yPred.length) {
    throw new MetricsError(
      'E_METRICS_SHAPE',
      `yTrue has ${yTrue.length} labels but yPred has ${yPred.length}`,
    );
  }
  for (const [name, labels] of [['yTrue', yTrue], ['yPred', yPred]] as const) {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      // Number.isInteger rejects NaN and ±Infinity as well as fractions (e.g. an unrounded argmax).
      if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
        throw new MetricsError(
          'E_METRICS_LABEL',
          `${name}[${i}] = ${label} is not a class index in [0, ${numClasses})`,
        );
      }
    }
  }
}

/**
 * Counts (true, predicted) label pairs into an n×n matrix, n = `numClasses`.
 *
 * `cm[t][p]` is the number of samples whose true class is `t` and predicted class is `p`: rows =
 * true class, columns = predicted class, as in scikit-learn's `confusion_matrix(y_true, y_pred,
 * labels=range(n))`. Row sums are the per-class supports, column sums the per-class prediction
 * counts, the diagonal the true positives.
 *
 * @param yTrue true class indices, shape [samples]
 * @param yPred predicted class indices (e.g. argmax of the logits), shape [samples]
 * @param numClasses n, the number of classes; every label must lie in [0, n)
 * @returns a fresh n×n array of non-negative integer counts summing to `samples`
 * @throws MetricsError E_METRICS_VALUE for a bad `numClasses`, E_METRICS_SHAPE on a length
 *         mismatch, E_METRICS_LABEL on a label outside [0, n) or not an integer.
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  assertNumClasses(numClasses);
  assertLabels(yTrue, yPred, numClasses);
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    cm[yTrue[i]][yPred[i]] += 1;
  }
  return cm;
}

/**
 * Checks that `cm` is a non-empty square matrix of non-negative safe-integer counts and returns
 * its size n.
 *
 * @throws MetricsError E_METRICS_SHAPE for an empty, ragged or non-square matrix;
 *         E_METRICS_VALUE for a count that is negative, fractional, non-finite or above 2^53 - 1.
 */
export function assertConfusionMatrix(cm: readonly (readonly number[])[]): number {
  const n = cm.length;
  if (n === 0) {
    throw new MetricsError('E_METRICS_SHAPE', 'confusion matrix has no rows (zero classes)');
  }
  for (let t = 0; t < n; t++) {
    const row = cm[t];
    if (row.length !== n) {
      throw new MetricsError(
        'E_METRICS_SHAPE',
        `confusion matrix must be square: row ${t} has ${row.length} columns, expected ${n}`,
      );
    }
    for (let p = 0; p < n; p++) {
      const count = row[p];
      if (!Number.isSafeInteger(count) || count < 0) {
        throw new MetricsError(
          'E_METRICS_VALUE',
          `confusion matrix entry [${t}][${p}] = ${count} is not a non-negative integer count`,
        );
      }
    }
  }
  return n;
}
