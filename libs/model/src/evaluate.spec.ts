import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { evaluateBatch } from './evaluate.js';
import { cyclicLabels, randomFloats, useWasm } from './spec-helpers.js';

describe('evaluateBatch (wasm)', () => {
  beforeAll(useWasm);

  it('gives the same predictions and losses in chunks as in one batch, matching model.predict', async () => {
    const model = createModel({ numClasses: 10, seed: 3 });
    const count = 23;
    const xs = randomFloats(count * 3072, 5, 3);
    const labels = cyclicLabels(count, 10);
    const before = tf.memory().numTensors;
    const whole = await evaluateBatch(model, xs, labels, count);
    const chunked = await evaluateBatch(model, xs, labels, count, { batchSize: 5 });
    const single = await evaluateBatch(model, xs, labels, count, { batchSize: 1 });
    expect(tf.memory().numTensors).toBe(before);

    expect(Array.from(chunked.predictions)).toEqual(Array.from(whole.predictions));
    expect(Array.from(single.predictions)).toEqual(Array.from(whole.predictions));
    for (let i = 0; i < count; i++) {
      expect(chunked.losses[i]).toBeCloseTo(whole.losses[i], 5);
      expect(single.losses[i]).toBeCloseTo(whole.losses[i], 5);
    }
    expect(new Set(whole.predictions).size).toBeGreaterThan(1);

    // Known answer: inference mode (dropout off) softmax of the same model.
    const probs = tf.tidy(() => (model.predict(tf.tensor4d(xs, [count, 32, 32, 3])) as tf.Tensor).arraySync() as number[][]);
    probs.forEach((p, i) => {
      expect(whole.predictions[i]).toBe(p.indexOf(Math.max(...p)));
      expect(whole.losses[i]).toBeCloseTo(-Math.log(p[labels[i]]), 4);
    });
    model.dispose();
  });

  it('rejects bad sizes, labels and batch sizes', async () => {
    const model = createModel({ numClasses: 10 });
    const xs = new Float32Array(3 * 3072);
    await expect(evaluateBatch(model, xs, [0, 1, 2], 2)).rejects.toThrow(expect.objectContaining({ code: 'E_INPUT_SHAPE' }));
    await expect(evaluateBatch(model, xs, [0, 1, -1], 3)).rejects.toThrow(expect.objectContaining({ code: 'E_LABEL_RANGE' }));
    await expect(evaluateBatch(model, xs, [0, 1, 2], 3, { batchSize: 0 })).rejects.toThrow(expect.objectContaining({ code: 'E_MODEL_OPTIONS' }));
    model.dispose();
  });
});
