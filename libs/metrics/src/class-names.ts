import { MetricsError } from './errors.js';

/**
 * The display names of `numClasses` classes: `classNames` when given (checked to have exactly
 * `numClasses` entries), otherwise `'class 0'`, `'class 1'`, ... — the names scikit-learn's
 * classification_report prints when `target_names` is omitted and labels are 0..n-1.
 *
 * @throws MetricsError E_METRICS_SHAPE when `classNames.length !== numClasses`.
 */
export function resolveClassNames(numClasses: number, classNames?: readonly string[]): string[] {
  if (classNames === undefined) {
    return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
  }
  if (classNames.length !== numClasses) {
    throw new MetricsError(
      'E_METRICS_SHAPE',
      `expected ${numClasses} class names, got ${classNames.length}`,
    );
  }
  return [...classNames];
}
