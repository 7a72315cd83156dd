import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { ModelError } from './errors.js';
import { getWeightsFlat, setWeightsFlat, weightSpecs } from './flat-weights.js';
import { computeGradients } from './gradients.js';
import { freezeLayers } from './freeze.js';
import { randomFloats, useWasm } from './spec-helpers.js';

const SPECS_10 = [
  ['conv2d_1/kernel', [3, 3, 3, 32]],
  ['conv2d_1/bias', [32]],
  ['conv2d_2/kernel', [3, 3, 32, 32]],
  ['conv2d_2/bias', [32]],
  ['conv2d_3/kernel', [3, 3, 32, 64]],
  ['conv2d_3/bias', [64]],
  ['conv2d_4/kernel', [3, 3, 64, 64]],
  ['conv2d_4/bias', [64]],
  ['dense_1/kernel', [2304, 512]],
  ['dense_1/bias', [512]],
  ['dense_2/kernel', [512, 10]],
  ['dense_2/bias', [10]],
];

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('weightSpecs', () => {
  it('lists kernel then bias per layer, in layer order, with running offsets', () => {
    const model = createModel({ numClasses: 10 });
    // A second model with the same layer names: tfjs suffixes its variable names, specs must not.
    const twin = createModel({ numClasses: 10 });
    for (const m of [model, twin]) {
      const specs = weightSpecs(m, 'all');
      expect(specs.map((s) => [s.name, s.shape])).toEqual(SPECS_10);
      let offset = 0;
      for (const s of specs) {
        expect(s.offset).toBe(offset);
        expect(s.size).toBe(s.shape.reduce((a, b) => a * b, 1));
        offset += s.size;
      }
      expect(offset).toBe(1250858);
    }
    model.dispose();
    twin.dispose();
  });

  it("'trainable' skips frozen layers", () => {
    const model = createModel({ numClasses: 10 });
    freezeLayers(model, 5);
    const specs = weightSpecs(model, 'trainable');
    expect(specs.map((s) => s.name)).toEqual(SPECS_10.slice(4).map((s) => s[0]));
    expect(specs[0].offset).toBe(0);
    // tfjs' model.weights puts frozen weights last; the 'all' layout must not move.
    expect(model.weights[0].originalName).toBe('conv2d_3/kernel');
    expect(weightSpecs(model, 'all').map((s) => [s.name, s.shape])).toEqual(SPECS_10);
    model.dispose();
  });
});

describe('getWeightsFlat / setWeightsFlat', () => {
  it('round-trips byte-exactly, including -0, denormals and NaN payloads', () => {
    const model = createModel({ numClasses: 10, seed: 1 });
    const flat = randomFloats(1250858, 99);
    flat[0] = -0;
    flat[1] = 1e-42; // denormal
    new Uint32Array(flat.buffer, 8, 1)[0] = 0x7fc01234; // NaN with a payload
    const before = tf.memory().numTensors;
    setWeightsFlat(model, flat, 'all');
    expect(tf.memory().numTensors).toBe(before);
    const back = getWeightsFlat(model, 'all');
    expect(bytes(back).equals(bytes(flat))).toBe(true);
    // The model keeps its own copy: changing the caller's array afterwards changes nothing.
    flat[5] = 12345;
    expect(getWeightsFlat(model, 'all')[5]).not.toBe(12345);
    // Values land in the layer they are meant for: dense_2/bias is the last 10 values.
    const bias = model.getLayer('dense_2').getWeights()[1].dataSync();
    expect(Array.from(bias)).toEqual(Array.from(back.subarray(back.length - 10)));
    model.dispose();
  });

  it("sets only the trainable weights with 'trainable'", () => {
    const model = createModel({ numClasses: 10, seed: 2 });
    freezeLayers(model, 5);
    const all = getWeightsFlat(model, 'all');
    const frozenSize = 896 + 9248;
    const trainable = randomFloats(1250858 - frozenSize, 3);
    setWeightsFlat(model, trainable, 'trainable');
    const after = getWeightsFlat(model, 'all');
    expect(bytes(after.subarray(0, frozenSize)).equals(bytes(all.subarray(0, frozenSize)))).toBe(true);
    expect(bytes(after.subarray(frozenSize)).equals(bytes(trainable))).toBe(true);
    expect(bytes(getWeightsFlat(model, 'trainable')).equals(bytes(trainable))).toBe(true);
    model.dispose();
  });

  it('rejects a wrong length with E_MODEL_WEIGHTS_LENGTH naming expected and got', () => {
    const model = createModel({ numClasses: 10 });
    const before = getWeightsFlat(model, 'all');
    const err = (() => {
      try {
        setWeightsFlat(model, new Float32Array(1250857), 'all');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe('E_MODEL_WEIGHTS_LENGTH');
    expect((err as ModelError).message).toMatch(/expected 1250858 .*got 1250857/);
    expect(() => setWeightsFlat(model, new Float32Array(1250858), 'trainable')).not.toThrow();
    expect(() => setWeightsFlat(model, before, 'trainable')).not.toThrow();
    freezeLayers(model, 5);
    expect(() => setWeightsFlat(model, before, 'trainable')).toThrow(expect.objectContaining({ code: 'E_MODEL_WEIGHTS_LENGTH' }));
    model.dispose();
  });
});

describe('setWeightsFlat on wasm', () => {
  beforeAll(useWasm);
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips byte-exactly and keeps no view of the caller\'s array', () => {
    const model = createModel({ numClasses: 10, seed: 4 });
    const flat = randomFloats(1250858, 6);
    new Uint32Array(flat.buffer, 8, 1)[0] = 0x7fc01234; // NaN with a payload
    const before = tf.memory().numTensors;
    setWeightsFlat(model, flat, 'all');
    expect(tf.memory().numTensors).toBe(before);
    expect(bytes(getWeightsFlat(model, 'all')).equals(bytes(flat))).toBe(true);
    flat[5] = 12345;
    expect(getWeightsFlat(model, 'all')[5]).not.toBe(12345);
    model.dispose();
  });

  it('a model that has already computed uses the new weights: the same gradient as a fresh model given them', async () => {
    // The wasm backend caches XNNPACK operators (weights packed) per tensor: new weights must be
    // new tensors, or the cached operators keep computing with the old ones.
    const count = 2;
    const xs = randomFloats(count * 3072, 21);
    const labels = [3, 7];
    const used = createModel({ numClasses: 10, seed: 22, dropout: false });
    await computeGradients(used, xs, labels, count);
    const flat = randomFloats(1250858, 23, 0.05);
    setWeightsFlat(used, flat, 'all');
    const fresh = createModel({ numClasses: 10, seed: 24, dropout: false });
    setWeightsFlat(fresh, flat, 'all');
    const a = await computeGradients(used, xs, labels, count);
    const b = await computeGradients(fresh, xs, labels, count);
    expect(a.loss).toBe(b.loss);
    expect(bytes(a.gradients).equals(bytes(b.gradients))).toBe(true);
    used.dispose();
    fresh.dispose();
  });
});
