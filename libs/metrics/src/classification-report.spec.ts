import { describe, expect, it } from 'vitest';
import { codeOf } from './spec-helpers.js';
import { classificationReport } from './classification-report.js';
import { confusionMatrix } from './confusion-matrix.js';
import { CIFAR10_NAMES, REFERENCE_TEST_CM } from './test-fixtures.js';

describe('classificationReport on the reference CIFAR-10 test matrix', () => {
  const report = classificationReport(REFERENCE_TEST_CM, { classNames: CIFAR10_NAMES, loss: 0.91403 });

  it('reproduces the reference accuracy exactly and counts 1000 samples per class', () => {
    expect(report.numClasses).toBe(10);
    expect(report.samples).toBe(10000);
    expect(report.accuracy).toBe(0.6789);
    expect(report.perClass.map((m) => m.support)).toEqual(new Array(10).fill(1000));
    expect(report.loss).toBe(0.91403);
  });

  it('gives macro figures matching the reference recall 0.68 and F1 0.68', () => {
    // Computed by hand from the matrix (python3, plain lists): column sums are
    // 1049 909 1144 867 1247 886 942 1077 1004 875; the diagonal sums to 6789.
    expect(report.precisionMacro).toBeCloseTo(0.6858973166951154, 12);
    expect(report.recallMacro).toBeCloseTo(0.6789, 12);
    expect(report.f1Macro).toBeCloseTo(0.6802090847858497, 12);
    expect(report.precisionMacro.toFixed(4)).toBe('0.6859');
    expect(report.recallMacro.toFixed(4)).toBe('0.6789');
    expect(report.f1Macro.toFixed(4)).toBe('0.6802');
    expect(report.recallMacro.toFixed(2)).toBe('0.68');
    expect(report.f1Macro.toFixed(2)).toBe('0.68');
    // The lab report prints precision 0,66, but its own matrix gives a macro (and weighted)
    // precision of 0.6859 -> 0.69: the printed figure is not derivable from the matrix.
    expect(report.precisionMacro.toFixed(2)).toBe('0.69');
  });

  it('gives weighted figures equal to macro ones (every class has support 1000)', () => {
    expect(report.precisionWeighted).toBeCloseTo(report.precisionMacro, 12);
    expect(report.recallWeighted).toBeCloseTo(0.6789, 12);
    expect(report.f1Weighted).toBeCloseTo(report.f1Macro, 12);
  });

  it('gives per-class figures from the diagonal, row and column sums', () => {
    const cat = report.perClass[3];
    expect(cat.name).toBe('cat');
    expect(cat.precision).toBe(460 / 867);
    expect(cat.recall).toBe(460 / 1000);
    expect(cat.f1).toBe((2 * 460) / (1000 + 867));
    expect(cat.f1.toFixed(4)).toBe('0.4928');
    const truck = report.perClass[9];
    expect(truck.precision).toBe(728 / 875);
    expect(truck.f1.toFixed(4)).toBe('0.7765');
  });
});

describe('classificationReport on hand-computed small cases', () => {
  it('handles a never-predicted class and a zero-support class (zero_division=0)', () => {
    // y_true = [0,0,0,1,1,1], y_pred = [0,0,2,0,0,0]:
    //   class 0: tp 2, predicted 5, support 3 -> P 2/5, R 2/3, F1 2*2/(3+5) = 1/2
    //   class 1: never predicted, support 3  -> P 0 (0/0), R 0/3 = 0, F1 0
    //   class 2: predicted once, support 0   -> P 0/1 = 0, R 0 (0/0), F1 0
    const cm = confusionMatrix([0, 0, 0, 1, 1, 1], [0, 0, 2, 0, 0, 0], 3);
    expect(cm).toEqual([
      [2, 0, 1],
      [3, 0, 0],
      [0, 0, 0],
    ]);
    const r = classificationReport(cm);
    expect(r.perClass).toEqual([
      { name: 'class 0', precision: 2 / 5, recall: 2 / 3, f1: 1 / 2, support: 3 },
      { name: 'class 1', precision: 0, recall: 0, f1: 0, support: 3 },
      { name: 'class 2', precision: 0, recall: 0, f1: 0, support: 0 },
    ]);
    expect(r.samples).toBe(6);
    expect(r.accuracy).toBe(2 / 6);
    // Macro averages over all three classes, the zero-support class 2 included.
    expect(r.precisionMacro).toBeCloseTo(2 / 15, 15);
    expect(r.recallMacro).toBeCloseTo(2 / 9, 15);
    expect(r.f1Macro).toBeCloseTo(1 / 6, 15);
    // Weighted by support 3, 3, 0 over 6 samples.
    expect(r.precisionWeighted).toBeCloseTo(1 / 5, 15);
    expect(r.recallWeighted).toBeCloseTo(1 / 3, 15);
    expect(r.f1Weighted).toBeCloseTo(1 / 4, 15);
    expect('loss' in r).toBe(false);
  });

  it('reproduces the sklearn classification_report docs example', () => {
    // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]: sklearn prints
    // P 0.50 0.00 1.00, R 1.00 0.00 0.67, F1 0.67 0.00 0.80, accuracy 0.60,
    // macro 0.50 0.56 0.49, weighted 0.70 0.60 0.61.
    const r = classificationReport(confusionMatrix([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3));
    expect(r.perClass.map((m) => [m.precision, m.recall, m.f1])).toEqual([
      [1 / 2, 1, 2 / 3],
      [0, 0, 0],
      [1, 2 / 3, 4 / 5],
    ]);
    expect(r.accuracy).toBe(3 / 5);
    expect(r.precisionMacro).toBeCloseTo(1 / 2, 15);
    expect(r.recallMacro).toBeCloseTo(5 / 9, 15);
    expect(r.f1Macro).toBeCloseTo((2 / 3 + 4 / 5) / 3, 15);
    expect(r.precisionWeighted).toBeCloseTo(7 / 10, 15);
    expect(r.recallWeighted).toBeCloseTo(3 / 5, 15);
    expect(r.f1Weighted).toBeCloseTo((2 / 3 + 3 * (4 / 5)) / 5, 15);
  });

  it('counts a class absent from both truth and predictions as zeros in the macro average', () => {
    const r = classificationReport(confusionMatrix([0, 1], [0, 1], 3));
    expect(r.perClass[2]).toEqual({ name: 'class 2', precision: 0, recall: 0, f1: 0, support: 0 });
    expect(r.accuracy).toBe(1);
    expect(r.precisionMacro).toBeCloseTo(2 / 3, 15);
    expect(r.recallMacro).toBeCloseTo(2 / 3, 15);
    expect(r.f1Macro).toBeCloseTo(2 / 3, 15);
    expect(r.precisionWeighted).toBe(1);
    expect(r.f1Weighted).toBe(1);
  });

  it('reports zeros, never NaN, for a matrix with no samples', () => {
    const r = classificationReport([
      [0, 0],
      [0, 0],
    ]);
    const figures = [
      r.accuracy, r.precisionMacro, r.recallMacro, r.f1Macro,
      r.precisionWeighted, r.recallWeighted, r.f1Weighted,
      ...r.perClass.flatMap((m) => [m.precision, m.recall, m.f1]),
    ];
    expect(figures).toEqual(new Array(figures.length).fill(0));
    expect(r.samples).toBe(0);
  });

  it('uses given class names, copies the loss and holds its own copy of the matrix', () => {
    const cm = [
      [1, 0],
      [1, 2],
    ];
    const r = classificationReport(cm, { classNames: ['cat', 'dog'], loss: 1.25 });
    cm[0][0] = 99;
    expect(r.perClass.map((m) => m.name)).toEqual(['cat', 'dog']);
    expect(r.loss).toBe(1.25);
    expect(r.confusionMatrix).toEqual([
      [1, 0],
      [1, 2],
    ]);
  });

  it('rejects malformed matrices and name lists', () => {
    expect(codeOf(() => classificationReport([]))).toBe('E_METRICS_SHAPE');
    expect(codeOf(() => classificationReport([[1, 2]]))).toBe('E_METRICS_SHAPE');
    expect(codeOf(() => classificationReport([[1, 2], [3]]))).toBe('E_METRICS_SHAPE');
    expect(codeOf(() => classificationReport([[1, 0], [0, 1]], { classNames: ['a'] }))).toBe('E_METRICS_SHAPE');
    expect(codeOf(() => classificationReport([[1, -1], [0, 1]]))).toBe('E_METRICS_VALUE');
    expect(codeOf(() => classificationReport([[1, 0.5], [0, 1]]))).toBe('E_METRICS_VALUE');
  });
});
