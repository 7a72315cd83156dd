import type { EpochRecord, PhaseReport } from '@cifar-dist/training';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Shared look of every chart: plain sans-serif text, white background, no outer padding tricks. */
const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  title: { fontSize: 13, anchor: 'start' },
} as const;

/** Which learning curve: the loss or the accuracy, train and test. */
export type CurveMetric = 'loss' | 'accuracy';

const CURVE_FIELDS: Record<CurveMetric, { train: keyof EpochRecord; test: keyof EpochRecord; unadjusted: keyof EpochRecord; title: string }> = {
  loss: { train: 'loss', test: 'testLoss', unadjusted: 'testLossUnadjusted', title: 'Loss (mean cross-entropy)' },
  accuracy: { train: 'accuracy', test: 'testAccuracy', unadjusted: 'testAccuracyUnadjusted', title: 'Accuracy' },
};

/** The legend name of the test figures taken with the output bias as trained (see EpochRecord). */
export const UNADJUSTED_SPLIT = 'test before logit adjustment';

/**
 * Vega-Lite spec of one learning curve: x = epoch (1-based), y = the metric, one line with
 * points per split (train = mean over the epoch's training batches, test = end-of-epoch test set;
 * where the epochs recorded it, UNADJUSTED_SPLIT = the test set with the output bias as trained,
 * `test` being then taken with the logit adjustment, as the phase's final figures are).
 */
export function learningCurveSpec(history: EpochRecord[], metric: CurveMetric, title: string): TopLevelSpec {
  const f = CURVE_FIELDS[metric];
  const unadjusted = history.some((h) => h[f.unadjusted] !== undefined);
  const values = history.flatMap((h) => [
    { epoch: h.epoch, split: 'train', value: h[f.train] },
    { epoch: h.epoch, split: 'test', value: h[f.test] },
    ...(h[f.unadjusted] !== undefined ? [{ epoch: h.epoch, split: UNADJUSTED_SPLIT, value: h[f.unadjusted] }] : []),
  ]);
  return {
    title,
    width: 360,
    height: 220,
    config: CONFIG,
    data: { values },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: f.title, scale: { zero: false } },
      color: {
        field: 'split',
        type: 'nominal',
        title: null,
        scale: unadjusted
          ? { domain: ['train', 'test', UNADJUSTED_SPLIT], range: ['#1f77b4', '#d62728', '#ff9896'] }
          : { domain: ['train', 'test'], range: ['#1f77b4', '#d62728'] },
        legend: { orient: 'top', direction: 'horizontal', labelLimit: 0 },
      },
      tooltip: [
        { field: 'epoch', type: 'quantitative' },
        { field: 'split', type: 'nominal' },
        { field: 'value', type: 'quantitative', format: '.4f' },
      ],
    },
  };
}

/**
 * Vega-Lite spec of a confusion matrix heatmap: rows (y) = true class, columns (x) = predicted
 * class, both in class-index order with their names; each cell shows its count as text and is
 * coloured by the count's share of its true class (row-normalised, so classes with fewer test
 * images stay readable).
 *
 * @param cm n×n counts, rows = true class, cols = predicted (as in ClassificationReport)
 * @param classNames n names, in class-index order
 */
export function confusionMatrixSpec(cm: number[][], classNames: string[], title: string): TopLevelSpec {
  const values = cm.flatMap((row, i) => {
    const rowSum = row.reduce((a, b) => a + b, 0);
    return row.map((count, j) => ({
      actual: classNames[i] ?? `class ${i}`,
      predicted: classNames[j] ?? `class ${j}`,
      count,
      share: rowSum === 0 ? 0 : count / rowSum,
    }));
  });
  const order = cm.map((_, i) => classNames[i] ?? `class ${i}`);
  return {
    title,
    width: { step: 40 },
    height: { step: 28 },
    config: CONFIG,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: order, title: 'predicted class', axis: { labelAngle: -40 } },
      y: { field: 'actual', type: 'ordinal', sort: order, title: 'true class' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'share',
            type: 'quantitative',
            title: 'share of true class',
            scale: { domain: [0, 1], range: ['#f7fbff', '#08306b'] },
            legend: { format: '.0%' },
          },
          tooltip: [
            { field: 'actual', type: 'nominal', title: 'true' },
            { field: 'predicted', type: 'nominal' },
            { field: 'count', type: 'quantitative' },
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/**
 * Compiles a Vega-Lite spec with `vega-lite` and renders it to an SVG string with `vega`'s
 * headless View (renderer 'none'; no canvas, no DOM, no network: all data is inline).
 * @returns a standalone `<svg …>…</svg>` document fragment
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The three charts of one phase, as SVG strings: loss curves, accuracy curves, test confusion matrix. */
export interface PhaseCharts {
  loss: string;
  accuracy: string;
  confusion: string;
}

/** Renders a phase's charts (see `learningCurveSpec`, `confusionMatrixSpec`). */
export async function renderPhaseCharts(phase: PhaseReport): Promise<PhaseCharts> {
  const [loss, accuracy, confusion] = await Promise.all([
    renderSvg(learningCurveSpec(phase.history, 'loss', `${phase.name}: loss per epoch`)),
    renderSvg(learningCurveSpec(phase.history, 'accuracy', `${phase.name}: accuracy per epoch`)),
    renderSvg(
      confusionMatrixSpec(phase.test.confusionMatrix, phase.classNames, `${phase.name}: test confusion matrix`),
    ),
  ]);
  return { loss, accuracy, confusion };
}
