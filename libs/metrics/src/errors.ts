/**
 * Stable error codes of the metrics library. Callers match on `code`, never on message text.
 *
 * - E_METRICS_SHAPE  lengths that must agree do not (yTrue/yPred/losses, a non-square or ragged
 *                    confusion matrix, class names vs classes, a zero-class matrix)
 * - E_METRICS_LABEL  a label that is not an integer in [0, numClasses)
 * - E_METRICS_VALUE  an invalid number: numClasses not a positive integer, a confusion-matrix
 *                    count that is not a non-negative safe integer, `digits` out of range
 * - E_METRICS_EMPTY  a mean over zero values was asked for (meanLoss of nothing)
 */
export type MetricsErrorCode = 'E_METRICS_SHAPE' | 'E_METRICS_LABEL' | 'E_METRICS_VALUE' | 'E_METRICS_EMPTY';

/** The one error class of the metrics library: a stable `code` plus a message naming the culprit. */
export class MetricsError extends Error {
  readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string) {
    super(message);
    this.name = 'MetricsError';
    this.code = code;
  }
}

/** Narrowing helper for callers that catch `unknown`. */
export function isMetricsError(err: unknown, code?: MetricsErrorCode): err is MetricsError {
  return err instanceof MetricsError && (code === undefined || err.code === code);
}
