/**
 * The webgpu backend computes what the wasm backend computes: the reference network's loss and
 * trainable-weight gradients, dropout, frozen layers, evaluation and predict, and it keeps no
 * tensor across training steps. On a machine without a GPU it runs on Chromium's SwiftShader
 * (a GPU emulated on the CPU, ~2.7 s per 4-image step on 2 cores), so batches are small.
 *
 * Tolerance: both backends compute in float32 and differ only in summation order (XNNPACK's
 * blocked loops against WGSL workgroup reductions). The longest reductions are the conv weight
 * gradients over batch × 32 × 32 positions (8,192 terms at batch 8), whose rounding error is about
 * sqrt(8192) × 6e-8 ≈ 5e-6 relative and at worst 8192 × 6e-8 ≈ 5e-4. We require a norm-wise
 * relative error below 1e-4 per weight tensor and |Δloss| < 1e-5; measured on SwiftShader:
 * worst tensor 1.6e-6, |Δloss| ≤ 2.4e-7.
 *
 * Skipped, with the reason printed, only where Dawn finds no Vulkan adapter at all (no driver and
 * no SwiftShader); CI sets REQUIRE_WEBGPU=1, and there a missing adapter fails the tests instead.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { selectBackend } from './backend.js';
import { evaluateBatch } from './evaluate.js';
import { getWeightsFlat, readWeightsFlat, setWeightsFlat, weightSpecs } from './flat-weights.js';
import type { DropoutMaskSource } from './forward.js';
import { freezeLayers } from './freeze.js';
import { computeGradients, type GradientResult } from './gradients.js';
import { replaceHead } from './head.js';
import { cyclicLabels, randomFloats, relativeError } from './spec-helpers.js';
import { probeAdapters, stopWebgpu, swiftShaderEnv, webgpuAdapter } from './webgpu.js';

// The machine's own adapters first (a real GPU); SwiftShader only where Dawn finds none.
let probe = await probeAdapters();
if (probe.adapters.length === 0) {
  Object.assign(process.env, swiftShaderEnv());
  probe = await probeAdapters();
}
const required = process.env['REQUIRE_WEBGPU'] === '1';
const skip = probe.adapters.length === 0 && !required;
if (skip) {
  console.log(`webgpu backend tests skipped: Dawn finds no Vulkan adapter (${probe.problem ?? "install a GPU's Vulkan driver, or Debian's chromium for SwiftShader"})`);
}

const GRAD_TOL = 1e-4;
const LOSS_TOL = 1e-5;

/** Dropout keep-masks from a fixed pattern (the same on both backends). */
const patternMasks: DropoutMaskSource = (index, rate, perSample, count) =>
  Uint8Array.from({ length: perSample * count }, (_, i) => (((i * 7919 + index * 104729) % 1000) / 1000 >= rate ? 1 : 0));

interface Case {
  name: string;
  /** Builds the model (on the active backend) with the weights `weights`, when given. */
  build: (weights?: Float32Array) => tf.Sequential;
  count: number;
  masks?: DropoutMaskSource;
}

const CASES: Case[] = [
  {
    name: 'the reference network, dropout off',
    build: (w) => withWeights(createModel({ numClasses: 10, dropout: false, seed: 3 }), w),
    count: 8,
  },
  {
    name: 'dropout on, with fixed keep-masks',
    build: (w) => withWeights(createModel({ numClasses: 10, dropout: true, seed: 5 }), w),
    count: 4,
    masks: patternMasks,
  },
  {
    name: 'the fine-tune model: 14-class head, first 5 layers frozen',
    build: (w) => {
      const m = replaceHead(createModel({ numClasses: 10, dropout: false, seed: 7 }), 14, { seed: 8 });
      freezeLayers(m, 5);
      return withWeights(m, w);
    },
    count: 4,
  },
];

function withWeights(model: tf.Sequential, weights: Float32Array | undefined): tf.Sequential {
  if (weights !== undefined) setWeightsFlat(model, weights, 'all');
  return model;
}

interface Reference {
  weights: Float32Array;
  result: GradientResult;
}

describe.skipIf(skip)('webgpu backend against wasm', () => {
  const xs = randomFloats(16 * 3072, 11, 2);
  const labels = cyclicLabels(16, 10);
  const refs = new Map<string, Reference>();
  let refEval: { predictions: Uint8Array; losses: Float32Array; probs: Float32Array; weights: Float32Array };

  beforeAll(async () => {
    await selectBackend({ force: 'wasm' });
    for (const c of CASES) {
      const model = c.build();
      const weights = getWeightsFlat(model, 'all');
      const result = await computeGradients(model, xs.subarray(0, c.count * 3072), labels, c.count, c.masks ? { dropoutMasks: c.masks } : {});
      refs.set(c.name, { weights, result });
      model.dispose();
    }
    const model = createModel({ numClasses: 10, dropout: true, seed: 9 });
    const evaluation = await evaluateBatch(model, xs, labels, 16, { batchSize: 8 });
    const probs = tf.tidy(() => (model.predict(tf.tensor4d(xs.subarray(0, 8 * 3072), [8, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array);
    refEval = { ...evaluation, probs, weights: getWeightsFlat(model, 'all') };
    model.dispose();
    const choice = await selectBackend({ force: 'webgpu' });
    expect(choice.tfBackend).toBe('webgpu');
    expect(choice.adapter?.device).toBe(webgpuAdapter()?.device);
    console.log(`webgpu tests on ${choice.device}, driver ${choice.adapter?.driver}`);
  });

  afterAll(() => stopWebgpu());

  for (const c of CASES) {
    it(`${c.name}: loss, predictions and every trainable gradient match wasm`, async () => {
      const ref = refs.get(c.name) as Reference;
      const model = c.build(ref.weights);
      const got = await computeGradients(model, xs.subarray(0, c.count * 3072), labels, c.count, c.masks ? { dropoutMasks: c.masks } : {});
      expect(got.gradients.length).toBe(ref.result.gradients.length);
      expect(Math.abs(got.loss - ref.result.loss)).toBeLessThan(LOSS_TOL);
      expect(got.correct).toBe(ref.result.correct);
      const worst = weightSpecs(model, 'trainable').map((s) => ({
        name: s.name,
        err: relativeError(got.gradients.subarray(s.offset, s.offset + s.size), ref.result.gradients.subarray(s.offset, s.offset + s.size)),
      }));
      for (const w of worst) expect(w.err, w.name).toBeLessThan(GRAD_TOL);
      console.log(`${c.name}: |Δloss| ${Math.abs(got.loss - ref.result.loss).toExponential(1)}, worst layer ${Math.max(...worst.map((w) => w.err)).toExponential(1)}`);
      model.dispose();
    });
  }

  it("tfjs' own random dropout draws differ between passes; with dropout off they repeat exactly", async () => {
    const model = createModel({ numClasses: 10, dropout: true, seed: 5 });
    const a = await computeGradients(model, xs.subarray(0, 4 * 3072), labels, 4);
    const b = await computeGradients(model, xs.subarray(0, 4 * 3072), labels, 4);
    expect(relativeError(a.gradients, b.gradients)).toBeGreaterThan(1e-3);
    model.dispose();
    const plain = createModel({ numClasses: 10, dropout: false, seed: 5 });
    const c = await computeGradients(plain, xs.subarray(0, 4 * 3072), labels, 4);
    const d = await computeGradients(plain, xs.subarray(0, 4 * 3072), labels, 4);
    expect(Buffer.from(c.gradients.buffer).equals(Buffer.from(d.gradients.buffer))).toBe(true);
    plain.dispose();
  });

  it('evaluation and predict (inference mode) match wasm; weights read back byte for byte', async () => {
    const model = createModel({ numClasses: 10, dropout: true, seed: 9 });
    setWeightsFlat(model, refEval.weights, 'all');
    const held = await readWeightsFlat(model, 'all');
    expect(Buffer.from(held.buffer).equals(Buffer.from(refEval.weights.buffer))).toBe(true);
    const got = await evaluateBatch(model, xs, labels, 16, { batchSize: 8 });
    expect(Array.from(got.predictions)).toEqual(Array.from(refEval.predictions));
    for (let i = 0; i < 16; i++) expect(Math.abs((got.losses[i] as number) - (refEval.losses[i] as number))).toBeLessThan(LOSS_TOL);
    const probs = tf.tidy(() => model.predict(tf.tensor4d(xs.subarray(0, 8 * 3072), [8, 32, 32, 3])) as tf.Tensor);
    const values = (await probs.data()) as Float32Array;
    probs.dispose();
    expect(relativeError(values, refEval.probs)).toBeLessThan(GRAD_TOL);
    model.dispose();
  });

  it('10 training steps leave the tensor count and bytes unchanged', async () => {
    const model = createModel({ numClasses: 10, dropout: true, seed: 1 });
    const out = new Float32Array(1250858);
    await computeGradients(model, xs.subarray(0, 4 * 3072), labels, 4, { out }); // warm-up: one-time state
    const before = tf.memory();
    for (let i = 0; i < 10; i++) {
      setWeightsFlat(model, stepWeights(i), 'trainable');
      await computeGradients(model, xs.subarray(0, 4 * 3072), labels, 4, { out });
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(out.every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});

/** Trainable weights for the memory test's loads, as a worker loads new weights every step. */
function stepWeights(step: number): Float32Array {
  return randomFloats(1250858, 100 + step, 0.05);
}
