/**
 * @cifar-dist/metrics — classification metrics with scikit-learn's conventions (confusion matrix
 * rows = true class, precision_recall_fscore_support with zero_division=0, classification_report
 * text), mean loss and a shard-order-independent accumulator. This file is the library's only
 * public door.
 */
export { MetricsError, isMetricsError, type MetricsErrorCode } from './errors.js';
export { confusionMatrix } from './confusion-matrix.js';
export {
  classificationReport,
  type ClassMetrics,
  type ClassificationReport,
  type ClassificationReportOptions,
} from './classification-report.js';
export { formatClassificationReport, formatConfusionMatrix } from './format.js';
export { formatFixed } from './format-fixed.js';
export { meanLoss } from './mean-loss.js';
export { ExactSum } from './exact-sum.js';
export { MetricsAccumulator } from './accumulator.js';
