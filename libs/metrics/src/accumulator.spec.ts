import { describe, expect, it } from 'vitest';
import { codeOf } from './spec-helpers.js';
import { MetricsAccumulator } from './accumulator.js';
import { classificationReport } from './classification-report.js';
import { confusionMatrix } from './confusion-matrix.js';
import { meanLoss } from './mean-loss.js';
import { labelsFromMatrix, mulberry32, REFERENCE_TEST_CM } from './test-fixtures.js';

const CLASSES = 5;
const SAMPLES = 997;

/**
 * A reproducible labelled "evaluation": 5 classes, ~60% correct. Losses are float64 with a wide
 * range on purpose: float32 losses of this size sum exactly even in a plain double running sum,
 * which would let an order-dependent accumulator pass the shard-order test.
 */
function makeData(seed: number) {
  const rand = mulberry32(seed);
  const yTrue = new Int32Array(SAMPLES);
  const yPred = new Int32Array(SAMPLES);
  const losses = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    yTrue[i] = Math.floor(rand() * CLASSES);
    yPred[i] = rand() < 0.6 ? yTrue[i] : Math.floor(rand() * CLASSES);
    losses[i] = -Math.log(rand() * 0.999 + 0.001) * 10 ** Math.floor(rand() * 6 - 3);
  }
  return { yTrue, yPred, losses };
}

/** Cuts [0, n) at sorted random points into contiguous shards of uneven size (some empty). */
function shardBounds(n: number, cuts: number, seed: number): Array<[number, number]> {
  const rand = mulberry32(seed);
  const points = Array.from({ length: cuts }, () => Math.floor(rand() * (n + 1))).sort((a, b) => a - b);
  const edges = [0, ...points, n];
  return edges.slice(1).map((end, i) => [edges[i], end]);
}

describe('MetricsAccumulator', () => {
  const data = makeData(42);
  const names = ['a', 'b', 'c', 'd', 'e'];
  const singleShot = classificationReport(confusionMatrix(data.yTrue, data.yPred, CLASSES), {
    classNames: names,
    loss: meanLoss(data.losses),
  });

  it('equals the single-shot report for shards added in any order', () => {
    const shards = shardBounds(SAMPLES, 12, 3);
    const rand = mulberry32(99);
    const shuffled = [...shards].sort(() => rand() - 0.5);
    for (const order of [shards, [...shards].reverse(), shuffled]) {
      const acc = new MetricsAccumulator(CLASSES, names);
      for (const [start, end] of order) {
        acc.add(data.yTrue.subarray(start, end), data.yPred.subarray(start, end), data.losses.subarray(start, end));
      }
      expect(acc.samples).toBe(SAMPLES);
      // Deep, exact equality: counts are integers and the loss is an exact sum, so not even the
      // last bit of the mean loss may depend on the order.
      expect(acc.report()).toEqual(singleShot);
    }
    expect(singleShot.samples).toBe(SAMPLES);
    expect(singleShot.loss).toBeGreaterThan(0);
    // The test has teeth: a plain running sum of these losses does depend on the order.
    const plain = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0);
    expect(plain(data.losses)).not.toBe(plain(data.losses.slice().reverse()));
  });

  it('merges per-worker accumulators into the single-shot report', () => {
    const [start, end] = [0, 400];
    const first = new MetricsAccumulator(CLASSES, names);
    const second = new MetricsAccumulator(CLASSES, names);
    second.add(data.yTrue.subarray(end), data.yPred.subarray(end), data.losses.subarray(end));
    first.add(data.yTrue.subarray(start, end), data.yPred.subarray(start, end), data.losses.subarray(start, end));
    second.merge(first);
    expect(second.samples).toBe(SAMPLES);
    expect(second.report()).toEqual(singleShot);
    expect(codeOf(() => second.merge(new MetricsAccumulator(CLASSES + 1)))).toBe('E_METRICS_SHAPE');
  });

  it('reproduces the reference accuracy from sharded labels', () => {
    const { yTrue, yPred } = labelsFromMatrix(REFERENCE_TEST_CM);
    const acc = new MetricsAccumulator(10);
    for (const [start, end] of shardBounds(yTrue.length, 7, 11).reverse()) {
      acc.add(yTrue.subarray(start, end), yPred.subarray(start, end));
    }
    const report = acc.report();
    expect(report.accuracy).toBe(0.6789);
    expect(report.confusionMatrix).toEqual(REFERENCE_TEST_CM);
    expect('loss' in report).toBe(false);
  });

  it('throws on mismatched lengths and counts nothing of the bad batch', () => {
    const acc = new MetricsAccumulator(3);
    acc.add([0, 1], [0, 2], [0.5, 1.5]);
    expect(codeOf(() => acc.add([0, 1], [0]))).toBe('E_METRICS_SHAPE');
    expect(codeOf(() => acc.add([0, 1], [0, 1], [0.1]))).toBe('E_METRICS_SHAPE');
    // Valid labels first, a bad one last: the whole batch must be refused.
    expect(codeOf(() => acc.add([0, 1, 2], [0, 1, 3], [1, 1, 1]))).toBe('E_METRICS_LABEL');
    expect(acc.samples).toBe(2);
    expect(acc.report().confusionMatrix).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [0, 0, 0],
    ]);
    expect(acc.report().loss).toBe(1);
  });

  it('requires losses for every batch or for none', () => {
    const withLosses = new MetricsAccumulator(2);
    withLosses.add([0], [0], [1]);
    expect(codeOf(() => withLosses.add([1], [1]))).toBe('E_METRICS_SHAPE');
    const without = new MetricsAccumulator(2);
    without.add([0], [0]);
    expect(codeOf(() => without.add([1], [1], [1]))).toBe('E_METRICS_SHAPE');
    // An empty batch carries no samples, so it can't break the rule either way.
    without.add([], [], []);
    expect(without.samples).toBe(1);
  });

  it('reports zeros and no loss before anything is added', () => {
    const report = new MetricsAccumulator(2).report();
    expect(report.samples).toBe(0);
    expect(report.accuracy).toBe(0);
    expect(report.f1Macro).toBe(0);
    expect('loss' in report).toBe(false);
  });

  it('validates its constructor arguments', () => {
    expect(codeOf(() => new MetricsAccumulator(0))).toBe('E_METRICS_VALUE');
    expect(codeOf(() => new MetricsAccumulator(2, ['only one']))).toBe('E_METRICS_SHAPE');
  });
});
