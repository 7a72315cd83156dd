import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { predictLogits } from './evaluate.js';
import { computeGradients } from './gradients.js';
import { cyclicLabels, randomFloats, useWasm } from './spec-helpers.js';

describe('computeGradients with label smoothing, predictLogits (wasm)', () => {
  beforeAll(useWasm);

  it('loss and output-bias gradient equal the smoothed cross-entropy of the logits', async () => {
    const k = 14;
    const e = 0.1;
    const model = createModel({ numClasses: k, dropout: false, seed: 8 });
    const count = 9;
    const xs = randomFloats(count * 3072, 11, 2);
    const labels = cyclicLabels(count, k);
    const before = tf.memory().numTensors;
    const logits = await predictLogits(model, xs, count, { batchSize: 4 });
    const plain = await computeGradients(model, xs, labels, count);
    const smooth = await computeGradients(model, xs, labels, count, { labelSmoothing: e });
    expect(tf.memory().numTensors).toBe(before);

    // Known answer in float64: t = (1 - e) onehot + e / k; loss = mean(-sum t log softmax(z));
    // d loss / d bias = mean(softmax(z) - t).
    let loss = 0;
    let plainLoss = 0;
    const biasGrad = new Array<number>(k).fill(0);
    for (let i = 0; i < count; i++) {
      const z = Array.from(logits.subarray(i * k, (i + 1) * k));
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
      for (let c = 0; c < k; c++) {
        const t = (c === labels[i] ? 1 - e : 0) + e / k;
        loss -= (t * ((z[c] as number) - lse)) / count;
        biasGrad[c] += (Math.exp((z[c] as number) - lse) - t) / count;
      }
      plainLoss -= ((z[labels[i] as number] as number) - lse) / count;
    }
    expect(plain.loss).toBeCloseTo(plainLoss, 4);
    expect(smooth.loss).toBeCloseTo(loss, 4);
    const g = smooth.gradients.subarray(smooth.gradients.length - k);
    biasGrad.forEach((v, c) => expect(g[c]).toBeCloseTo(v, 5));
    // Whatever the logits, smoothing moves the bias gradient by e (share of class c - 1 / k).
    const g0 = plain.gradients.subarray(plain.gradients.length - k);
    for (let c = 0; c < k; c++) {
      const share = Array.from(labels).filter((l) => l === c).length / count;
      expect((g[c] as number) - (g0[c] as number)).toBeCloseTo(e * (share - 1 / k), 6);
    }
    model.dispose();
  });

  it('refuses a smoothing outside [0, 1)', async () => {
    const model = createModel({ numClasses: 10, dropout: false });
    await expect(computeGradients(model, new Float32Array(3072), [0], 1, { labelSmoothing: 1 })).rejects.toThrow(/labelSmoothing must be in \[0, 1\)/);
    model.dispose();
  });
});
