import { describe, expect, it } from 'vitest';
import { codeOf } from './spec-helpers.js';
import { confusionMatrix } from './confusion-matrix.js';
import { labelsFromMatrix, REFERENCE_TEST_CM } from './test-fixtures.js';

describe('confusionMatrix', () => {
  it('counts rows = true class, cols = predicted class (sklearn docs example)', () => {
    // sklearn.metrics.confusion_matrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]) from its docs.
    expect(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2], 3)).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
  });

  it('puts a single mistake in row true, column predicted', () => {
    expect(confusionMatrix([0], [1], 2)).toEqual([
      [0, 1],
      [0, 0],
    ]);
  });

  it('accepts typed arrays and rebuilds the reference 10x10 matrix from its labels', () => {
    const { yTrue, yPred } = labelsFromMatrix(REFERENCE_TEST_CM);
    expect(yTrue.length).toBe(10000);
    expect(confusionMatrix(yTrue, Uint8Array.from(yPred), 10)).toEqual(REFERENCE_TEST_CM);
  });

  it('gives an all-zero matrix for no samples', () => {
    expect(confusionMatrix([], new Float32Array(0), 2)).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it('throws E_METRICS_SHAPE on a length mismatch', () => {
    expect(codeOf(() => confusionMatrix([0, 1], [0], 2))).toBe('E_METRICS_SHAPE');
  });

  it('throws E_METRICS_LABEL on labels outside [0, numClasses) or not integers', () => {
    expect(codeOf(() => confusionMatrix([0, 2], [0, 1], 2))).toBe('E_METRICS_LABEL');
    expect(codeOf(() => confusionMatrix([0, 1], [0, -1], 2))).toBe('E_METRICS_LABEL');
    expect(codeOf(() => confusionMatrix([0, 1], [0, 0.5], 2))).toBe('E_METRICS_LABEL');
    expect(codeOf(() => confusionMatrix([0, NaN], [0, 1], 2))).toBe('E_METRICS_LABEL');
    expect(() => confusionMatrix([0, 1], [0, 7], 2)).toThrow(/yPred\[1\] = 7/);
  });

  it('throws E_METRICS_VALUE on a class count that is not a positive integer', () => {
    expect(codeOf(() => confusionMatrix([], [], 0))).toBe('E_METRICS_VALUE');
    expect(codeOf(() => confusionMatrix([], [], 2.5))).toBe('E_METRICS_VALUE');
  });
});
