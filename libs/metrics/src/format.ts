import { resolveClassNames } from './class-names.js';
import type { ClassificationReport } from './classification-report.js';
import { assertConfusionMatrix } from './confusion-matrix.js';
import { MetricsError } from './errors.js';
import { formatFixed } from './format-fixed.js';

/** Right-aligns `s` in `width` columns, counting code points like Python's str.format does. */
function padLeft(s: string, width: number): string {
  const length = [...s].length;
  return length >= width ? s : ' '.repeat(width - length) + s;
}

/**
 * The report as scikit-learn's `classification_report(..., digits=digits)` prints it, byte for
 * byte (its `output_dict=False` branch): a header (precision, recall, f1-score, support), a blank
 * line, one row per class, a blank line, then `accuracy` (only the f1-score and support
 * columns), `macro avg` and `weighted avg`. Every value column is 9 wide after two spaces; the
 * name column is as wide as the longest of the class names, 'weighted avg' and `digits`.
 * Numbers round like Python (ties to even, see `formatFixed`). Like sklearn's string, the text
 * ends with a newline. The loss, when present, is not part of sklearn's table and is not printed.
 *
 * @param digits decimals per figure, integer in [0, 20]; default 4 (sklearn's default is 2)
 * @throws MetricsError E_METRICS_VALUE when `digits` is out of range.
 */
export function formatClassificationReport(report: ClassificationReport, digits = 4): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) {
    throw new MetricsError('E_METRICS_VALUE', `digits must be an integer in [0, 20], got ${digits}`);
  }
  const lastHeading = 'weighted avg';
  const width = Math.max(...report.perClass.map((m) => [...m.name].length), lastHeading.length, digits);
  const num = (x: number): string => ' ' + padLeft(formatFixed(x, digits), 9);
  const int = (x: number): string => ' ' + padLeft(String(x), 9);
  const row = (heading: string, p: number, r: number, f: number, support: number): string =>
    padLeft(heading, width) + ' ' + num(p) + num(r) + num(f) + int(support) + '\n';

  let text = padLeft('', width) + ' ' + ['precision', 'recall', 'f1-score', 'support'].map((h) => ' ' + padLeft(h, 9)).join('');
  text += '\n\n';
  for (const m of report.perClass) text += row(m.name, m.precision, m.recall, m.f1, m.support);
  text += '\n';
  // sklearn prints micro-average as "accuracy" (single-label, all labels listed), blanking P and R.
  text += padLeft('accuracy', width) + ' ' + ' ' + ' '.repeat(9) + ' ' + ' '.repeat(9) + num(report.accuracy) + int(report.samples) + '\n';
  text += row('macro avg', report.precisionMacro, report.recallMacro, report.f1Macro, report.samples);
  text += row(lastHeading, report.precisionWeighted, report.recallWeighted, report.f1Weighted, report.samples);
  return text;
}

/**
 * The confusion matrix as right-aligned text: a header row of predicted-class names under the
 * corner label `true \ pred`, then one row per true class (its name, then its counts). Each
 * column is as wide as its name or its widest count; columns are separated by two spaces. Lines
 * end with '\n', the last one too (so it concatenates with `formatClassificationReport`).
 *
 * @param cm n×n counts, rows = true class, cols = predicted class
 * @param classNames n names; default 'class 0', 'class 1', ...
 * @throws MetricsError E_METRICS_SHAPE for a non-square matrix or a wrong number of names,
 *         E_METRICS_VALUE for a negative/fractional count.
 */
export function formatConfusionMatrix(cm: number[][], classNames?: string[]): string {
  const n = assertConfusionMatrix(cm);
  const names = resolveClassNames(n, classNames);
  const corner = 'true \\ pred';
  const labelWidth = Math.max(corner.length, ...names.map((s) => [...s].length));
  const columnWidths = names.map((name, p) =>
    Math.max([...name].length, ...cm.map((row) => String(row[p]).length)),
  );
  const line = (label: string, cells: string[]): string =>
    padLeft(label, labelWidth) + cells.map((cell, p) => '  ' + padLeft(cell, columnWidths[p])).join('') + '\n';

  let text = line(corner, names);
  for (let t = 0; t < n; t++) text += line(names[t], cm[t].map(String));
  return text;
}
