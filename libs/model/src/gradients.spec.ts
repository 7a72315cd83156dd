import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { weightSpecs } from './flat-weights.js';
import { freezeLayers } from './freeze.js';
import { computeGradients } from './gradients.js';
import { countParams } from './param-count.js';
import { cyclicLabels, randomFloats, useWasm } from './spec-helpers.js';

describe('computeGradients (wasm)', () => {
  beforeAll(useWasm);

  it('starts near ln(10) on random data and leaks no tensor over 20 steps', async () => {
    const model = createModel({ numClasses: 10, seed: 1 });
    const count = 8;
    const xs = randomFloats(count * 3072, 2);
    const labels = cyclicLabels(count, 10);
    await computeGradients(model, xs, labels, count); // warm-up: kernels' one-time state
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    let last = await computeGradients(model, xs, labels, count);
    for (let i = 1; i < 20; i++) last = await computeGradients(model, xs, labels, count);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytesBefore);
    expect(Math.abs(last.loss - Math.log(10))).toBeLessThan(0.3);
    expect(last.count).toBe(count);
    expect(last.correct).toBeGreaterThanOrEqual(0);
    expect(last.correct).toBeLessThanOrEqual(count);
    expect(last.gradients.length).toBe(1250858);
    expect(last.gradients.every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it('head bias gradient equals mean(softmax - onehot) and correct counts argmax hits', async () => {
    const model = createModel({ numClasses: 10, dropout: false, seed: 4 });
    const count = 6;
    const xs = randomFloats(count * 3072, 5, 2);
    const labels = Uint8Array.from([3, 3, 0, 9, 5, 1]);
    const { loss, correct, gradients } = await computeGradients(model, xs, labels, count);

    const probs = tf.tidy(() => (model.predict(tf.tensor4d(xs, [count, 32, 32, 3])) as tf.Tensor).arraySync() as number[][]);
    const expectedBias = new Array<number>(10).fill(0);
    let expectedLoss = 0;
    let hits = 0;
    probs.forEach((p, i) => {
      p.forEach((v, k) => (expectedBias[k] += (v - (k === labels[i] ? 1 : 0)) / count));
      expectedLoss -= Math.log(p[labels[i]]) / count;
      if (p.indexOf(Math.max(...p)) === labels[i]) hits++;
    });
    const bias = Array.from(gradients.subarray(gradients.length - 10));
    bias.forEach((g, k) => expect(g).toBeCloseTo(expectedBias[k], 6));
    expect(loss).toBeCloseTo(expectedLoss, 5);
    expect(correct).toBe(hits);
    model.dispose();
  });

  it('returns only the trainable weights after freezing, with the same values for them', async () => {
    const model = createModel({ numClasses: 14, dropout: false, seed: 6 });
    const count = 4;
    const xs = randomFloats(count * 3072, 7);
    const labels = Uint8Array.from([13, 0, 7, 10]);
    const full = await computeGradients(model, xs, labels, count);
    freezeLayers(model, 5);
    const frozen = await computeGradients(model, xs, labels, count);
    expect(frozen.gradients.length).toBe(countParams(model).trainable);
    expect(frozen.gradients.length).toBe(1252910 - 896 - 9248);
    expect(frozen.loss).toBe(full.loss);
    expect(weightSpecs(model, 'trainable')[0].name).toBe('conv2d_3/kernel');
    const tail = full.gradients.subarray(896 + 9248);
    let maxDiff = 0;
    for (let i = 0; i < tail.length; i++) maxDiff = Math.max(maxDiff, Math.abs(tail[i] - frozen.gradients[i]));
    expect(maxDiff).toBeLessThan(1e-7);
    model.dispose();
  });

  it('dropout makes training-mode passes differ; dropout:false makes them repeat exactly', async () => {
    const count = 4;
    const xs = randomFloats(count * 3072, 8);
    const labels = cyclicLabels(count, 10);
    const withDropout = createModel({ numClasses: 10, seed: 9 });
    const a = await computeGradients(withDropout, xs, labels, count);
    const b = await computeGradients(withDropout, xs, labels, count);
    expect(a.loss).not.toBe(b.loss);
    const noDropout = createModel({ numClasses: 10, seed: 9, dropout: false });
    const c = await computeGradients(noDropout, xs, labels, count);
    const d = await computeGradients(noDropout, xs, labels, count);
    expect(c.loss).toBe(d.loss);
    expect(Buffer.from(c.gradients.buffer).equals(Buffer.from(d.gradients.buffer))).toBe(true);
    withDropout.dispose();
    noDropout.dispose();
  });

  it('writes into a given buffer every value a fresh array would hold, and refuses a wrong length', async () => {
    const count = 3;
    const xs = randomFloats(count * 3072, 11);
    const labels = cyclicLabels(count, 10);
    const model = createModel({ numClasses: 10, seed: 12, dropout: false });
    const fresh = await computeGradients(model, xs, labels, count);
    const out = new Float32Array(fresh.gradients.length).fill(Number.NaN);
    const reused = await computeGradients(model, xs, labels, count, { out });
    expect(reused.gradients).toBe(out);
    expect(Buffer.from(out.buffer).equals(Buffer.from(fresh.gradients.buffer))).toBe(true);
    await expect(computeGradients(model, xs, labels, count, { out: new Float32Array(10) })).rejects.toThrow(/E_MODEL_WEIGHTS_LENGTH|gradient buffer/);
    model.dispose();
  });

  it('validates the batch before making tensors', async () => {
    const model = createModel({ numClasses: 10 });
    const before = tf.memory().numTensors;
    const xs = new Float32Array(2 * 3072);
    await expect(computeGradients(model, xs, [0, 1], 3)).rejects.toThrow(expect.objectContaining({ code: 'E_INPUT_SHAPE' }));
    await expect(computeGradients(model, xs, [0], 2)).rejects.toThrow(expect.objectContaining({ code: 'E_INPUT_SHAPE' }));
    await expect(computeGradients(model, xs, [0, 10], 2)).rejects.toThrow(expect.objectContaining({ code: 'E_LABEL_RANGE' }));
    await expect(computeGradients(model, xs, [0, 1.5], 2)).rejects.toThrow(expect.objectContaining({ code: 'E_LABEL_RANGE' }));
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
