import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '@cifar-dist/model';
import { FlatOptimizer, DEFAULT_OPTIMIZER, type OptimizerConfig } from './optimizer.js';

/** Runs `steps` updates with tfjs's own optimizer on the same gradients, for a known answer. */
function tfReference(make: () => tf.Optimizer, w0: Float32Array, grads: Float32Array[]): Float32Array {
  const v = tf.variable(tf.tensor1d(w0));
  const opt = make();
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    opt.applyGradients({ [v.name]: gt });
    gt.dispose();
  }
  const out = v.dataSync().slice() as Float32Array;
  v.dispose();
  opt.dispose();
  return out;
}

function run(cfg: OptimizerConfig, lr: number, w0: Float32Array, grads: Float32Array[]): Float32Array {
  const w = new Float32Array(w0);
  const opt = new FlatOptimizer(cfg, w.length);
  for (const g of grads) opt.step(w, g, lr);
  return w;
}

const w0 = new Float32Array([0.5, -1.25, 2, 0.01]);
const grads = Array.from({ length: 5 }, (_, s) => new Float32Array([0.1 * s, -0.3, Math.cos(s), 1e-3 * s]));

describe('FlatOptimizer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('SGD with momentum matches tf.train.momentum', () => {
    const cfg = { ...DEFAULT_OPTIMIZER, name: 'sgd' as const, momentum: 0.9, nesterov: false, weightDecay: 0 };
    const ours = run(cfg, 0.1, w0, grads);
    const ref = tfReference(() => tf.train.momentum(0.1, 0.9, false), w0, grads);
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toBeCloseTo(ref[i] as number, 5);
  });

  it('Nesterov SGD matches tf.train.momentum(useNesterov)', () => {
    const cfg = { ...DEFAULT_OPTIMIZER, name: 'sgd' as const, momentum: 0.9, nesterov: true, weightDecay: 0 };
    const ours = run(cfg, 0.05, w0, grads);
    const ref = tfReference(() => tf.train.momentum(0.05, 0.9, true), w0, grads);
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toBeCloseTo(ref[i] as number, 5);
  });

  it('Adam matches tf.train.adam', () => {
    const cfg = { ...DEFAULT_OPTIMIZER, name: 'adam' as const, weightDecay: 0 };
    const ours = run(cfg, 0.01, w0, grads);
    const ref = tfReference(() => tf.train.adam(0.01, 0.9, 0.999, 1e-7), w0, grads);
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toBeCloseTo(ref[i] as number, 5);
  });

  it('weight decay adds wd*w to the gradient (plain SGD by hand)', () => {
    const cfg = { ...DEFAULT_OPTIMIZER, momentum: 0, weightDecay: 0.1 };
    const w = new Float32Array([2]);
    new FlatOptimizer(cfg, 1).step(w, new Float32Array([1]), 0.5);
    // 2 - 0.5*(1 + 0.1*2) = 1.4
    expect(w[0]).toBeCloseTo(1.4, 6);
  });

  it('state round-trips: stopping and resuming gives the same weights bit for bit', () => {
    const cfg = { ...DEFAULT_OPTIMIZER, name: 'adam' as const };
    const straight = run(cfg, 0.01, w0, grads);
    const w = new Float32Array(w0);
    const a = new FlatOptimizer(cfg, w.length);
    for (const g of grads.slice(0, 2)) a.step(w, g, 0.01);
    const b = new FlatOptimizer(cfg, w.length);
    b.setState(a.getState());
    for (const g of grads.slice(2)) b.step(w, g, 0.01);
    expect(Array.from(w)).toEqual(Array.from(straight));
    expect(() => new FlatOptimizer({ ...cfg, name: 'sgd' }, 4).setState(a.getState())).toThrow(/optimizer state is for 'adam'/);
    expect(() => a.step(new Float32Array(3), new Float32Array(3), 0.1)).toThrow(/holds 4 weights/);
  });
});
