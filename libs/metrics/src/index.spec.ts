import { describe, expect, it } from 'vitest';
// Through the path alias, exactly as other projects import the library.
import {
  classificationReport,
  confusionMatrix,
  formatClassificationReport,
  formatConfusionMatrix,
  meanLoss,
  MetricsAccumulator,
  MetricsError,
  type ClassificationReport,
} from '@cifar-dist/metrics';

describe('@cifar-dist/metrics public door', () => {
  it('exposes the whole pipeline: labels -> matrix -> report -> text', () => {
    const cm = confusionMatrix([0, 1, 1], [0, 1, 0], 2);
    const report: ClassificationReport = classificationReport(cm, { loss: meanLoss([0.5, 1, 1.5]) });
    expect(report.accuracy).toBe(2 / 3);
    expect(report.loss).toBe(1);
    expect(formatClassificationReport(report, 2).split('\n')[2]).toBe('     class 0       0.50      1.00      0.67         1');
    expect(formatConfusionMatrix(cm).split('\n')[2]).toBe('    class 1        1        1');
    const acc = new MetricsAccumulator(2);
    acc.add([0, 1, 1], [0, 1, 0], [0.5, 1, 1.5]);
    expect(acc.report()).toEqual(report);
    const err = new MetricsError('E_METRICS_LABEL', 'x');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('E_METRICS_LABEL');
  });
});
