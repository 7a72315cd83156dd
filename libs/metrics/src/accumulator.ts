import { resolveClassNames } from './class-names.js';
import { classificationReport, type ClassificationReport } from './classification-report.js';
import { assertLabels, assertNumClasses } from './confusion-matrix.js';
import { MetricsError } from './errors.js';
import { ExactSum } from './exact-sum.js';

/**
 * Incremental confusion-matrix and loss accumulator for sharded / batched evaluation.
 *
 * Call `add(yTrue, yPred, losses?)` once per batch or shard, in any order, then `report()`.
 * Every sample is counted exactly once: the confusion matrix adds integer counts (order-free by
 * nature) and the loss total is an exact sum (`ExactSum`), so the report is identical — to the
 * last bit, loss included — for any split of the data into shards and any arrival order, and
 * equals `classificationReport(confusionMatrix(all), { loss: meanLoss(allLosses) })`.
 *
 * Losses are all-or-nothing: either every `add` with samples passes `losses` (then `report().loss`
 * is their mean) or none does (then `report()` has no `loss`). A batch that breaks this, or any
 * other check, throws before anything is counted, leaving the accumulator unchanged.
 */
export class MetricsAccumulator {
  readonly numClasses: number;
  private readonly classNames: string[];
  /** Row-major counts, index t·n + p (rows = true, cols = predicted). */
  private readonly counts: Float64Array;
  private readonly lossSum = new ExactSum();
  private sampleCount = 0;
  /** Whether counted samples came with losses; undefined until the first non-empty batch. */
  private withLosses: boolean | undefined;

  /**
   * @param numClasses n, the number of classes (labels lie in [0, n))
   * @param classNames n display names for the report; default 'class 0', ...
   * @throws MetricsError E_METRICS_VALUE for a bad `numClasses`; E_METRICS_SHAPE for a wrong
   *         number of names.
   */
  constructor(numClasses: number, classNames?: string[]) {
    assertNumClasses(numClasses);
    this.numClasses = numClasses;
    this.classNames = resolveClassNames(numClasses, classNames);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Counts one batch of samples.
   *
   * @param yTrue true class indices, shape [batch]
   * @param yPred predicted class indices, shape [batch]
   * @param losses per-sample losses, shape [batch] (not a batch mean: the report's loss is the
   *        mean over samples, which batch means of unequal batches would skew)
   * @throws MetricsError E_METRICS_SHAPE when the lengths differ or losses are given for some
   *         batches and not others; E_METRICS_LABEL for a label outside [0, numClasses).
   */
  add(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, losses?: ArrayLike<number>): void {
    assertLabels(yTrue, yPred, this.numClasses);
    if (losses !== undefined && losses.length !== yTrue.length) {
      throw new MetricsError(
        'E_METRICS_SHAPE',
        `losses has ${losses.length} values but the batch has ${yTrue.length} labels`,
      );
    }
    if (yTrue.length === 0) return;
    const hasLosses = losses !== undefined;
    if (this.withLosses !== undefined && this.withLosses !== hasLosses) {
      throw new MetricsError(
        'E_METRICS_SHAPE',
        this.withLosses
          ? 'this batch has no losses, but earlier batches had: pass losses for every batch or none'
          : 'this batch has losses, but earlier batches had none: pass losses for every batch or none',
      );
    }
    this.withLosses = hasLosses;
    const n = this.numClasses;
    for (let i = 0; i < yTrue.length; i++) this.counts[yTrue[i] * n + yPred[i]] += 1;
    if (losses !== undefined) this.lossSum.addAll(losses);
    this.sampleCount += yTrue.length;
  }

  /**
   * Adds everything another accumulator counted (e.g. one per worker) into this one.
   *
   * @throws MetricsError E_METRICS_SHAPE when the class counts differ or one side has losses
   *         and the other does not.
   */
  merge(other: MetricsAccumulator): void {
    if (other.numClasses !== this.numClasses) {
      throw new MetricsError(
        'E_METRICS_SHAPE',
        `cannot merge an accumulator of ${other.numClasses} classes into one of ${this.numClasses}`,
      );
    }
    if (other.withLosses === undefined) return;
    if (this.withLosses !== undefined && this.withLosses !== other.withLosses) {
      throw new MetricsError('E_METRICS_SHAPE', 'cannot merge accumulators where only one has losses');
    }
    this.withLosses = other.withLosses;
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.lossSum.merge(other.lossSum);
    this.sampleCount += other.sampleCount;
  }

  /** Number of samples counted so far. */
  get samples(): number {
    return this.sampleCount;
  }

  /** A copy of the confusion matrix so far (rows = true, cols = predicted). */
  confusionMatrix(): number[][] {
    const n = this.numClasses;
    return Array.from({ length: n }, (_, t) => Array.from(this.counts.subarray(t * n, (t + 1) * n)));
  }

  /**
   * The classification report of everything counted so far (see `classificationReport`), with
   * `loss` = mean per-sample loss when losses were given. With no samples all figures are 0 and
   * there is no loss (zero_division=0), never NaN.
   */
  report(): ClassificationReport {
    const cm = this.confusionMatrix();
    if (this.withLosses === true) {
      return classificationReport(cm, { classNames: this.classNames, loss: this.lossSum.value() / this.sampleCount });
    }
    return classificationReport(cm, { classNames: this.classNames });
  }
}
