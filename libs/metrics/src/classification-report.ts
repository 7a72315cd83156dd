import { resolveClassNames } from './class-names.js';
import { assertConfusionMatrix } from './confusion-matrix.js';

/** One class's row of the report (scikit-learn's per-label figures). */
export interface ClassMetrics {
  /** Display name (`'class i'` unless names were given). */
  name: string;
  /** tp / (tp + fp) = cm[i][i] / column sum i; 0 when the class was never predicted. */
  precision: number;
  /** tp / (tp + fn) = cm[i][i] / row sum i; 0 when the class has no true samples. */
  recall: number;
  /** 2·tp / (2·tp + fp + fn); 0 when the class is neither present nor predicted. */
  f1: number;
  /** Number of true samples of the class (row sum i). */
  support: number;
}

/** Everything scikit-learn's classification_report prints, plus accuracy, loss and the matrix. */
export interface ClassificationReport {
  numClasses: number;
  /** Total samples (sum of the confusion matrix). */
  samples: number;
  /** trace(cm) / samples (= micro-averaged precision, recall and F1 for single-label data). */
  accuracy: number;
  /** Mean per-sample loss, present only when one was supplied. */
  loss?: number;
  /** Unweighted mean over all `numClasses` classes (none excluded, even absent ones). */
  precisionMacro: number;
  recallMacro: number;
  f1Macro: number;
  /** Mean over classes weighted by support. */
  precisionWeighted: number;
  recallWeighted: number;
  f1Weighted: number;
  perClass: ClassMetrics[];
  /** A copy of the input matrix: rows = true class, cols = predicted class. */
  confusionMatrix: number[][];
}

/** Options of `classificationReport`. */
export interface ClassificationReportOptions {
  /** One display name per class, in class-index order; default `'class 0'`, `'class 1'`, ... */
  classNames?: string[];
  /** Mean per-sample loss to carry in the report (e.g. from `meanLoss`); copied as given. */
  loss?: number;
}

/** a / b with scikit-learn's zero_division=0: a zero denominator yields 0, never NaN. */
function divideOrZero(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * Every figure of scikit-learn's `classification_report(y_true, y_pred, labels=range(n),
 * zero_division=0)`, computed from the n×n confusion matrix `cm` (rows = true, cols = predicted).
 *
 * With tpᵢ = cm[i][i], supportᵢ = Σ_p cm[i][p] (row sum), predictedᵢ = Σ_t cm[t][i] (column sum),
 * following `precision_recall_fscore_support`:
 * - precisionᵢ = tpᵢ / predictedᵢ, recallᵢ = tpᵢ / supportᵢ,
 *   f1ᵢ = 2·tpᵢ / (supportᵢ + predictedᵢ) (the F-beta form sklearn ≥ 1.3 uses; equals
 *   2·P·R / (P + R) whenever both are defined);
 * - any 0/0 is 0 (zero_division=0): a never-predicted class has precision 0, a class without
 *   true samples has recall 0, a class with neither has F1 0;
 * - macro = plain mean over all n classes — like sklearn with `labels` given, classes absent from
 *   both y_true and y_pred are NOT excluded (they count as 0s);
 * - weighted = Σ figureᵢ·supportᵢ / Σ supportᵢ (0 when there are no samples);
 * - accuracy = Σ tpᵢ / samples (0 when there are no samples rather than NaN).
 *
 * @param cm n×n non-negative integer counts, n ≥ 1 (not modified; the report holds a copy)
 * @param opts.classNames n display names; opts.loss a mean loss copied into `loss` when given
 * @throws MetricsError E_METRICS_SHAPE for an empty, ragged or non-square matrix or a
 *         `classNames` length other than n; E_METRICS_VALUE for a negative/fractional count.
 */
export function classificationReport(
  cm: number[][],
  opts: ClassificationReportOptions = {},
): ClassificationReport {
  const n = assertConfusionMatrix(cm);
  const names = resolveClassNames(n, opts.classNames);

  const support = new Array<number>(n).fill(0);
  const predicted = new Array<number>(n).fill(0);
  let samples = 0;
  let correct = 0;
  for (let t = 0; t < n; t++) {
    for (let p = 0; p < n; p++) {
      const count = cm[t][p];
      support[t] += count;
      predicted[p] += count;
      samples += count;
    }
    correct += cm[t][t];
  }

  const perClass: ClassMetrics[] = names.map((name, i) => {
    const tp = cm[i][i];
    return {
      name,
      precision: divideOrZero(tp, predicted[i]),
      recall: divideOrZero(tp, support[i]),
      f1: divideOrZero(2 * tp, support[i] + predicted[i]),
      support: support[i],
    };
  });

  const macro = (pick: (m: ClassMetrics) => number): number =>
    perClass.reduce((acc, m) => acc + pick(m), 0) / n;
  const weighted = (pick: (m: ClassMetrics) => number): number =>
    divideOrZero(perClass.reduce((acc, m) => acc + pick(m) * m.support, 0), samples);

  const report: ClassificationReport = {
    numClasses: n,
    samples,
    accuracy: divideOrZero(correct, samples),
    precisionMacro: macro((m) => m.precision),
    recallMacro: macro((m) => m.recall),
    f1Macro: macro((m) => m.f1),
    precisionWeighted: weighted((m) => m.precision),
    recallWeighted: weighted((m) => m.recall),
    f1Weighted: weighted((m) => m.f1),
    perClass,
    confusionMatrix: cm.map((row) => [...row]),
  };
  if (opts.loss !== undefined) report.loss = opts.loss;
  return report;
}
