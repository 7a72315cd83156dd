import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { getWeightsFlat, setWeightsFlat } from './flat-weights.js';
import { computeGradients } from './gradients.js';
import { cyclicLabels, randomFloats, relativeError, useWasm } from './spec-helpers.js';
import { wasmConvGradientsInstalled } from './wasm-conv-gradients.js';

type Shape4 = [number, number, number, number];

/**
 * dx and dW of sum(conv2d(x, w) * dy) on the active backend: on 'wasm' they run our replacement
 * kernels, on 'cpu' tfjs' own Conv2DBackpropInput / Conv2DBackpropFilter.
 */
function convGrads(x: Float32Array, xShape: Shape4, w: Float32Array, wShape: Shape4, dy: Float32Array, pad: 'same' | 'valid', stride = 1) {
  return tf.tidy(() => {
    const dyT = (out: tf.Tensor) => tf.tensor(dy, out.shape);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const out = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
      return tf.sum(tf.mul(out, dyT(out)));
    };
    const [dx, dw] = tf.grads(f)([tf.tensor4d(x, xShape), tf.tensor4d(w, wShape)]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

async function onBackend<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  expect(await tf.setBackend(name)).toBe(true);
  try {
    return await fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

// Every conv of the reference network: input [b, h, w, ci] -> co filters, 3x3, stride 1.
const CONVS: Array<{ x: Shape4; co: number; pad: 'same' | 'valid'; out: number }> = [
  { x: [2, 32, 32, 3], co: 32, pad: 'same', out: 32 },
  { x: [2, 32, 32, 32], co: 32, pad: 'valid', out: 30 },
  { x: [2, 15, 15, 32], co: 64, pad: 'same', out: 15 },
  { x: [2, 15, 15, 64], co: 64, pad: 'valid', out: 13 },
];

describe('wasm conv gradient kernels', () => {
  beforeAll(async () => {
    await useWasm();
    expect(wasmConvGradientsInstalled()).toBe(true);
  });

  for (const c of CONVS) {
    it(`dx and dW match the cpu backend for [${c.x}] -> ${c.co} ${c.pad}`, async () => {
      const wShape: Shape4 = [3, 3, c.x[3], c.co];
      const x = randomFloats(c.x.reduce((a, b) => a * b), 1);
      const w = randomFloats(wShape.reduce((a, b) => a * b), 2, 0.2);
      const dy = randomFloats(c.x[0] * c.out * c.out * c.co, 3);
      const ref = await onBackend('cpu', () => convGrads(x, c.x, w, wShape, dy, c.pad));
      const before = tf.memory().numTensors;
      const got = convGrads(x, c.x, w, wShape, dy, c.pad);
      expect(tf.memory().numTensors).toBe(before);
      expect(got.dx.length).toBe(x.length);
      expect(got.dw.length).toBe(w.length);
      expect(relativeError(got.dx, ref.dx)).toBeLessThan(1e-4);
      expect(relativeError(got.dw, ref.dw)).toBeLessThan(1e-4);
    });
  }

  it('falls back to the stock kernel for a strided dx and refuses a strided dW', async () => {
    const xShape: Shape4 = [1, 8, 8, 4];
    const wShape: Shape4 = [3, 3, 4, 5];
    const x = randomFloats(256, 4);
    const w = randomFloats(180, 5);
    const dxOnly = () =>
      tf.tidy(() => {
        const wt = tf.tensor4d(w, wShape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, wt, 2, 'same')))(tf.tensor4d(x, xShape)).dataSync() as Float32Array;
      });
    const ref = await onBackend('cpu', dxOnly);
    expect(relativeError(dxOnly(), ref)).toBeLessThan(1e-5);
    expect(() => convGrads(x, xShape, w, wShape, randomFloats(80, 6), 'same', 2)).toThrow(
      expect.objectContaining({ code: 'E_WASM_CONV_UNSUPPORTED' }),
    );
  });

  it('transposed matMuls (the dense gradients) match the cpu backend', async () => {
    const a = randomFloats(64 * 96, 7);
    const b = randomFloats(64 * 40, 8);
    const products = () =>
      tf.tidy(() => {
        const ta = tf.tensor2d(a, [64, 96]);
        const tb = tf.tensor2d(b, [64, 40]);
        const bt = tf.tensor2d(b, [40, 64]);
        const tc = tf.tensor2d(b.subarray(0, 32 * 40), [32, 40]);
        const batched = tf.tensor3d(a, [2, 32, 96]);
        return [
          tf.matMul(ta, tb, true, false), // [96, 40]: the dW shape
          tf.matMul(bt, ta, false, false), // [40, 96]: untouched fast path
          tf.matMul(tb, tc, false, true), // [64, 40] x [32, 40]^T -> [64, 32]: the dx shape
          tf.matMul(ta, ta, true, false), // a^T a
          tf.matMul(batched, batched, false, true), // batch 2: stock kernel
        ].map((t) => t.dataSync() as Float32Array);
      });
    const ref = await onBackend('cpu', products);
    const got = products();
    got.forEach((g, i) => expect(relativeError(g, ref[i]), `product ${i}`).toBeLessThan(1e-5));
  });

  it('MaxPoolGrad matches the cpu backend, ties and all', async () => {
    // [b, h, w, c], filter, stride, pad: the network's two pools (13 is odd: last row/col unused),
    // plus overlapping and padded windows for the general loop.
    const cases: Array<[Shape4, number, number, 'valid' | 'same']> = [
      [[3, 30, 30, 8], 2, 2, 'valid'],
      [[3, 13, 13, 8], 2, 2, 'valid'],
      [[2, 9, 7, 3], 3, 2, 'same'],
    ];
    for (const [shape, size, stride, pad] of cases) {
      const n = shape.reduce((a, b) => a * b);
      const x = randomFloats(n, 31);
      // Coarse values make ties frequent (flat image regions do this after a conv + relu);
      // negatives check windows whose maximum is below zero.
      for (let i = 0; i < n; i++) x[i] = Math.round(x[i] * 2) / 2;
      const grad = () =>
        tf.tidy(() => {
          const xt = tf.tensor4d(x, shape);
          const f = (t: tf.Tensor) => {
            const y = tf.maxPool(t as tf.Tensor4D, size, stride, pad);
            return tf.sum(tf.mul(y, tf.tensor(randomFloats(y.size, 32), y.shape)));
          };
          return tf.grad(f)(xt).dataSync() as Float32Array;
        });
      const ref = await onBackend('cpu', grad);
      const got = grad();
      // Overlapping windows sum several dy into one dx, in another order than the cpu backend does:
      // allow rounding, while a misrouted gradient would be off by a whole dy value (~0.1 to 1).
      let maxDiff = 0;
      for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
      expect(maxDiff, `${shape} ${size}/${stride} ${pad}`).toBeLessThan(size === stride ? 1e-30 : 1e-6);
    }
  });

  it('Sum over leading axes (bias gradients) and other axes matches the cpu backend', async () => {
    const x = randomFloats(4 * 5 * 6 * 7, 41);
    const sums = () =>
      tf.tidy(() => {
        const t = tf.tensor4d(x, [4, 5, 6, 7]);
        return [
          tf.sum(t, [0, 1, 2]), // fast path: [7]
          tf.sum(t, [2, 0, 1], true), // fast path, unsorted axes, keepDims: [1, 1, 1, 7]
          tf.sum(t, 0), // fast path: [5, 6, 7]
          tf.sum(t, [1, 2]), // stock: [4, 7]
          tf.sum(t, -1), // stock: [4, 5, 6]
          tf.sum(t), // stock: all axes
        ].map((r) => ({ shape: r.shape, values: r.dataSync() as Float32Array }));
      });
    const ref = await onBackend('cpu', sums);
    const got = sums();
    got.forEach((g, i) => {
      expect(g.shape, `sum ${i}`).toEqual(ref[i].shape);
      expect(relativeError(g.values, ref[i].values), `sum ${i}`).toBeLessThan(1e-6);
    });
  });

  it('computeGradients of the whole model on wasm matches the cpu backend', async () => {
    const count = 2; // the cpu backend's conv backprop is slow: keep the reference small
    const xs = randomFloats(count * 3072, 21);
    const labels = cyclicLabels(count, 10);
    const wasmModel = createModel({ numClasses: 10, dropout: false, seed: 3 });
    const weights = getWeightsFlat(wasmModel, 'all');
    const got = await computeGradients(wasmModel, xs, labels, count);
    const ref = await onBackend('cpu', async () => {
      const cpuModel = createModel({ numClasses: 10, dropout: false });
      setWeightsFlat(cpuModel, weights, 'all');
      const r = await computeGradients(cpuModel, xs, labels, count);
      cpuModel.dispose();
      return r;
    });
    expect(got.gradients.length).toBe(1250858);
    expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-5);
    expect(got.correct).toBe(ref.correct);
    expect(relativeError(got.gradients, ref.gradients)).toBeLessThan(1e-4);
    // Per layer too: a wrong small layer would hide in the dense layer's norm.
    const bounds = [0, 864, 896, 10112, 10144, 28576, 28640, 65504, 65568, 1245216, 1245728, 1250848, 1250858];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [s, e] = [bounds[i], bounds[i + 1]];
      expect(relativeError(got.gradients.subarray(s, e), ref.gradients.subarray(s, e)), `weight ${i}`).toBeLessThan(1e-4);
    }
    wasmModel.dispose();
  });
});
