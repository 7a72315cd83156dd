import { describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { ModelError } from './errors.js';
import { getWeightsFlat, weightSpecs } from './flat-weights.js';
import { freezeLayers } from './freeze.js';
import { countParams } from './param-count.js';
import { modelSummary } from './summary.js';

/**
 * The reference network, copied from /work/shared/reference/reference-results.json
 * (architecture.layers_keras_order) with the Keras default names the lab report shows.
 * 'C' stands for the class count.
 */
const REFERENCE_TABLE: Array<[name: string, type: string, output: Array<number | 'C'>, params: number | 'head']> = [
  ['conv2d_1', 'Conv2D', [32, 32, 32], 896],
  ['activation_1', 'Activation', [32, 32, 32], 0],
  ['conv2d_2', 'Conv2D', [30, 30, 32], 9248],
  ['activation_2', 'Activation', [30, 30, 32], 0],
  ['max_pooling2d_1', 'MaxPooling2D', [15, 15, 32], 0],
  ['dropout_1', 'Dropout', [15, 15, 32], 0],
  ['conv2d_3', 'Conv2D', [15, 15, 64], 18496],
  ['activation_3', 'Activation', [15, 15, 64], 0],
  ['conv2d_4', 'Conv2D', [13, 13, 64], 36928],
  ['activation_4', 'Activation', [13, 13, 64], 0],
  ['max_pooling2d_2', 'MaxPooling2D', [6, 6, 64], 0],
  ['dropout_2', 'Dropout', [6, 6, 64], 0],
  ['flatten_1', 'Flatten', [2304], 0],
  ['dense_1', 'Dense', [512], 1180160],
  ['activation_5', 'Activation', [512], 0],
  ['dropout_3', 'Dropout', [512], 0],
  ['dense_2', 'Dense', ['C'], 'head'],
  ['activation_6', 'Activation', ['C'], 0],
];
const HEAD_PARAMS: Record<number, number> = { 10: 5130, 14: 7182 }; // params_10 / params_14
const TOTAL_PARAMS: Record<number, number> = { 10: 1250858, 14: 1252910 };
const ACTIVATIONS = ['relu', 'relu', 'relu', 'relu', 'relu', 'softmax'];
const DROPOUT_RATES = [0.25, 0.25, 0.5];

describe('createModel', () => {
  for (const numClasses of [10, 14]) {
    it(`matches the reference layer table for ${numClasses} classes`, () => {
      const model = createModel({ numClasses });
      const got = model.layers.map((l) => [l.name, l.getClassName(), (l.outputShape as number[]).slice(1), l.countParams()]);
      const want = REFERENCE_TABLE.map(([name, type, out, params]) => [
        name,
        type,
        out.map((d) => (d === 'C' ? numClasses : d)),
        params === 'head' ? HEAD_PARAMS[numClasses] : params,
      ]);
      expect(got).toEqual(want);
      expect(countParams(model)).toEqual({ total: TOTAL_PARAMS[numClasses], trainable: TOTAL_PARAMS[numClasses], nonTrainable: 0 });
      expect(model.inputs[0].shape).toEqual([null, 32, 32, 3]);
      model.dispose();
    });
  }

  it('uses the reference activations, 3x3 kernels, paddings, pools and dropout rates', () => {
    const model = createModel({ numClasses: 10 });
    const cfg = (type: string, key: string) =>
      model.layers.filter((l) => l.getClassName() === type).map((l) => l.getConfig()[key]);
    expect(cfg('Activation', 'activation')).toEqual(ACTIVATIONS);
    expect(cfg('Conv2D', 'kernelSize')).toEqual([[3, 3], [3, 3], [3, 3], [3, 3]]);
    expect(cfg('Conv2D', 'padding')).toEqual(['same', 'valid', 'same', 'valid']);
    expect(cfg('Conv2D', 'activation')).toEqual(['linear', 'linear', 'linear', 'linear']);
    expect(cfg('MaxPooling2D', 'poolSize')).toEqual([[2, 2], [2, 2]]);
    expect(cfg('Dropout', 'rate')).toEqual(DROPOUT_RATES);
    model.dispose();
  });

  it('dropout:false keeps the Dropout layers with rate 0', () => {
    const model = createModel({ numClasses: 10, dropout: false });
    expect(model.layers.map((l) => l.name)).toEqual(REFERENCE_TABLE.map((r) => r[0]));
    expect(model.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => l.getConfig()['rate'])).toEqual([0, 0, 0]);
    model.dispose();
  });

  it('initialises like Keras: glorot_uniform kernels within sqrt(6/(fan_in+fan_out)), zero biases', () => {
    const model = createModel({ numClasses: 10, seed: 7 });
    const flat = getWeightsFlat(model, 'all');
    for (const spec of weightSpecs(model, 'all')) {
      const values = flat.subarray(spec.offset, spec.offset + spec.size);
      if (spec.name.endsWith('/bias')) {
        expect(values.every((v) => v === 0)).toBe(true);
        continue;
      }
      const receptive = spec.shape.length === 4 ? spec.shape[0] * spec.shape[1] : 1;
      const fanIn = spec.shape[spec.shape.length - 2] * receptive;
      const fanOut = spec.shape[spec.shape.length - 1] * receptive;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const maxAbs = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbs).toBeLessThanOrEqual(limit);
      // A uniform sample spans nearly the whole interval; a normal (tfjs' default) would not be bounded.
      expect(maxAbs).toBeGreaterThan(0.9 * limit);
      const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
      expect(variance).toBeCloseTo((limit * limit) / 3, 2);
    }
    model.dispose();
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = createModel({ numClasses: 10, seed: 42 });
    const b = createModel({ numClasses: 10, seed: 42 });
    const c = createModel({ numClasses: 10, seed: 43 });
    const fa = getWeightsFlat(a, 'all');
    expect(Buffer.from(getWeightsFlat(b, 'all').buffer).equals(Buffer.from(fa.buffer))).toBe(true);
    expect(getWeightsFlat(c, 'all')).not.toEqual(fa);
    // Equal-shaped kernels in one model get different values (per-layer seeds).
    const [s3, s4] = [weightSpecs(a, 'all')[4], weightSpecs(a, 'all')[6]];
    expect(fa.subarray(s4.offset, s4.offset + 100)).not.toEqual(fa.subarray(s3.offset, s3.offset + 100));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects a bad class count', () => {
    for (const numClasses of [1, 2.5, 257]) {
      expect(() => createModel({ numClasses })).toThrow(expect.objectContaining({ code: 'E_MODEL_OPTIONS' }));
    }
    expect(() => createModel({ numClasses: 0 })).toThrow(ModelError);
  });
});

describe('freezeLayers', () => {
  it('freezes the first conv block (k = 5)', () => {
    const model = createModel({ numClasses: 14 });
    freezeLayers(model, 5);
    expect(model.layers.map((l) => l.trainable)).toEqual(REFERENCE_TABLE.map((_, i) => i >= 5));
    expect(countParams(model)).toEqual({ total: 1252910, trainable: 1252910 - 896 - 9248, nonTrainable: 896 + 9248 });
    expect(weightSpecs(model, 'trainable').map((s) => s.name)[0]).toBe('conv2d_3/kernel');
    model.dispose();
  });

  it('rejects k outside [0, layers]', () => {
    const model = createModel({ numClasses: 10 });
    for (const k of [-1, 19, 1.5]) expect(() => freezeLayers(model, k)).toThrow(expect.objectContaining({ code: 'E_FREEZE_RANGE' }));
    freezeLayers(model, 0);
    expect(countParams(model).nonTrainable).toBe(0);
    model.dispose();
  });
});

describe('modelSummary', () => {
  it('prints every layer and Keras-style totals', () => {
    const model = createModel({ numClasses: 10 });
    freezeLayers(model, 5);
    const text = modelSummary(model, 'phase 2');
    const lines = text.split('\n');
    expect(lines[0]).toBe('Model: "phase 2"');
    expect(lines).toContain('Total params: 1,250,858');
    expect(lines).toContain('Trainable params: 1,240,714');
    expect(lines).toContain('Non-trainable params: 10,144');
    for (const [name, type, out, params] of REFERENCE_TABLE) {
      const row = lines.find((l) => l.startsWith(`${name} (${type})`));
      expect(row, name).toBeDefined();
      const shape = `(None, ${out.map((d) => (d === 'C' ? 10 : d)).join(', ')})`;
      const count = params === 'head' ? '5,130' : params.toLocaleString('en-US');
      expect(row).toMatch(new RegExp(`\\(${type}\\)\\s+${shape.replace(/[()]/g, '\\$&')}\\s+${count}$`));
    }
    expect(lines.find((l) => l.startsWith('dense_1'))).toMatch(/1,180,160$/);
    expect(modelSummary(model).split('\n')[0]).toBe(`Model: "${model.name}"`);
    model.dispose();
  });
});
