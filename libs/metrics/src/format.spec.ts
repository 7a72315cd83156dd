import { describe, expect, it } from 'vitest';
import { classificationReport } from './classification-report.js';
import { confusionMatrix } from './confusion-matrix.js';
import { MetricsError } from './errors.js';
import { formatClassificationReport, formatConfusionMatrix } from './format.js';
import { CIFAR10_NAMES, REFERENCE_TEST_CM } from './test-fixtures.js';

describe('formatClassificationReport', () => {
  it('prints the sklearn docs example byte for byte (digits=2)', () => {
    // sklearn.metrics.classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1],
    //   target_names=['class 0', 'class 1', 'class 2']) as shown in sklearn's documentation.
    const report = classificationReport(confusionMatrix([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3));
    expect(formatClassificationReport(report, 2)).toBe(
      [
        '              precision    recall  f1-score   support',
        '',
        '     class 0       0.50      1.00      0.67         1',
        '     class 1       0.00      0.00      0.00         1',
        '     class 2       1.00      0.67      0.80         3',
        '',
        '    accuracy                           0.60         5',
        '   macro avg       0.50      0.56      0.49         5',
        'weighted avg       0.70      0.60      0.61         5',
        '',
      ].join('\n'),
    );
  });

  it('prints 4 digits by default, zero-division rows as zeros', () => {
    // Expected text from a python3 replica of sklearn's formatting code on the same figures.
    const report = classificationReport(confusionMatrix([0, 0, 0, 1, 1, 1], [0, 0, 2, 0, 0, 0], 3), {
      classNames: ['cat', 'dog', 'bird'],
    });
    expect(formatClassificationReport(report).split('\n')).toEqual([
      '              precision    recall  f1-score   support',
      '',
      '         cat     0.4000    0.6667    0.5000         3',
      '         dog     0.0000    0.0000    0.0000         3',
      '        bird     0.0000    0.0000    0.0000         0',
      '',
      '    accuracy                         0.3333         6',
      '   macro avg     0.1333    0.2222    0.1667         6',
      'weighted avg     0.2000    0.3333    0.2500         6',
      '',
    ]);
  });

  it('prints the reference CIFAR-10 summary rows', () => {
    const text = formatClassificationReport(classificationReport(REFERENCE_TEST_CM, { classNames: CIFAR10_NAMES }));
    const lines = text.split('\n');
    expect(lines[2]).toBe('    airplane     0.7026    0.7370    0.7194      1000');
    expect(lines[3]).toBe('  automobile     0.8482    0.7710    0.8078      1000');
    expect(lines.slice(-5)).toEqual([
      '',
      '    accuracy                         0.6789     10000',
      '   macro avg     0.6859    0.6789    0.6802     10000',
      'weighted avg     0.6859    0.6789    0.6802     10000',
      '',
    ]);
  });

  it('widens the name column for long class names', () => {
    const report = classificationReport([[1]], { classNames: ['non-insect invertebrates'] });
    const lines = formatClassificationReport(report, 1).split('\n');
    expect(lines[0]).toBe(' '.repeat(24) + '  precision    recall  f1-score   support');
    expect(lines[2]).toBe('non-insect invertebrates        1.0       1.0       1.0         1');
    expect(lines[6]).toBe('            weighted avg        1.0       1.0       1.0         1');
  });

  it('rejects digits outside [0, 20]', () => {
    const report = classificationReport([[1]]);
    expect(() => formatClassificationReport(report, -1)).toThrow(MetricsError);
    expect(() => formatClassificationReport(report, 1.5)).toThrow(/digits/);
  });
});

describe('formatConfusionMatrix', () => {
  it('aligns counts under predicted-class names, one row per true class', () => {
    const cm = [
      [2, 0, 1],
      [3, 1000, 0],
      [0, 0, 12],
    ];
    expect(formatConfusionMatrix(cm, ['cat', 'dog', 'bird']).split('\n')).toEqual([
      'true \\ pred  cat   dog  bird',
      '        cat    2     0     1',
      '        dog    3  1000     0',
      '       bird    0     0    12',
      '',
    ]);
  });

  it('defaults to class i names', () => {
    expect(formatConfusionMatrix([[5, 0], [1, 3]])).toBe(
      'true \\ pred  class 0  class 1\n' +
        '    class 0        5        0\n' +
        '    class 1        1        3\n',
    );
  });

  it('rejects non-square matrices and wrong name counts', () => {
    expect(() => formatConfusionMatrix([[1, 2]])).toThrow(MetricsError);
    expect(() => formatConfusionMatrix([[1]], ['a', 'b'])).toThrow(/class names/);
  });
});
