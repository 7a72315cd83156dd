import { describe, expect, it } from 'vitest';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import type { ComputeMessage, GradientMessage } from '@cifar-dist/protocol';
import { beforeAll } from 'vitest';
import { GradientGuard } from './gradient-guard.js';
import { InProcessLink } from './in-process-link.js';
import { clipToNorm, PhaseRunner } from './phase-runner.js';
import { CLASS_NAMES, comparableConfig, syntheticSet } from './test-support.js';
import { WorkerPool } from './worker-pool.js';

describe('GradientGuard', () => {
  it('without history, compares each part with the median of the step\'s others (2 workers suffice)', () => {
    const g = new GradientGuard();
    expect(g.judge([1.2, 0.9], [8, 8])).toEqual({ rejected: [], every: false });
    expect(g.judge([1.2, 1500], [8, 8])).toEqual({ rejected: [{ index: 1, norm: 1500, reference: 1.2, against: 'step' }], every: false });
    // a lone worker without history cannot be compared: accepted unless its norm overflows
    expect(g.judge([5e6], [8])).toEqual({ rejected: [], every: false });
    expect(g.judge([Number.POSITIVE_INFINITY], [8])).toEqual({ rejected: [{ index: 0, norm: Number.POSITIVE_INFINITY, reference: Number.NaN }], every: true });
  });

  it('with 5 accepted steps, compares with their median: a lone worker is bounded too', () => {
    const g = new GradientGuard();
    for (const n of [1, 2, 1.5, 0.5, 1]) g.accept([n], [8]);
    expect(g.judge([999], [8]).rejected).toEqual([]);
    expect(g.judge([1001], [8])).toEqual({ rejected: [{ index: 0, norm: 1001, reference: 1, against: 'history' }], every: true });
    // parts of no samples and non-finite parts (left to the finiteness check) are not judged
    expect(g.judge([0, Number.NaN, 2], [0, 8, 8])).toEqual({ rejected: [], every: false });
  });

  it('rejects an all-zero gradient, and never takes one as the reference (a zero part cannot get an honest one dropped)', () => {
    const g = new GradientGuard();
    expect(g.judge([5.8, 0], [8, 8])).toEqual({ rejected: [{ index: 1, norm: 0, reference: Number.NaN }], every: false });
    expect(g.judge([5.8, 0, 6.1], [8, 8, 8]).rejected.map((r) => r.index)).toEqual([1]);
  });

  it('lets the recorded history move by at most 10x per step: a worker just under the bound cannot ramp it up', () => {
    const g = new GradientGuard();
    for (let i = 0; i < 5; i++) g.accept([1, 1], [8, 8]);
    // a hostile worker at 900x, an honest one at 1: with 2 parts the step median is 450.5
    for (let i = 0; i < 5; i++) g.accept([1, 900], [8, 8]);
    // 5 of the 10 records are capped at 10: the median is 5.5, so 6,000 is still rejected
    expect(g.judge([6000], [8]).rejected).toHaveLength(1);
    expect(g.judge([5000], [8]).rejected).toHaveLength(0);
  });

  it('keeps the last historySteps step medians, each moved at most 10x from the median before it', () => {
    const g = new GradientGuard(10, 3, 1);
    // records 100, 100, then 1 capped to 10, 10, then 1 (the median had fallen to 10): [10, 10, 1]
    for (const n of [100, 100, 1, 1, 1]) g.accept([n, n], [1, 1]);
    expect(g.judge([101], [1]).rejected).toHaveLength(1);
    expect(g.judge([99], [1]).rejected).toHaveLength(0);
  });
});

describe('clipToNorm (--clip-norm)', () => {
  it('scales a gradient whose L2 norm exceeds the bound onto it, and leaves a smaller one alone', () => {
    const g = Float32Array.from([3, 4]);
    expect(clipToNorm(g, 1)).toBe(true);
    expect([...g]).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const small = Float32Array.from([0.3, 0.4]);
    expect(clipToNorm(small, 1)).toBe(false);
    expect([...small]).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });
});

describe('a lone worker whose every gradient value is 1e30', () => {
  beforeAll(async () => {
    await selectBackend({ force: 'wasm' });
  });

  const runWith = async (clipNorm?: number): Promise<{ runner: PhaseRunner; weights: () => Float32Array; logs: string[] }> => {
    const link = new InProcessLink('only');
    const compute = link.compute.bind(link);
    link.compute = async (msg: ComputeMessage): Promise<GradientMessage> => {
      const reply = await compute(msg);
      return msg.step === 1 ? { ...reply, gradients: new Float32Array(reply.gradients.length).fill(1e30) } : reply;
    };
    const pool = new WorkerPool();
    pool.add(link);
    const cfg = comparableConfig({ batchSize: 8, epochs: 1, evalChunk: 8, ...(clipNorm !== undefined ? { clipNorm } : {}) });
    const model = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
    const logs: string[] = [];
    const runner = new PhaseRunner({
      name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: CLASS_NAMES, frozenLayers: 0,
      train: syntheticSet(32, 1), test: syntheticSet(8, 2), epochs: 1, schedule: cfg.schedule, config: cfg, pool, hooks: { log: (m) => logs.push(m) },
    });
    const weights = (): Float32Array => {
      runner.syncModel();
      const w = getWeightsFlat(model, 'all');
      model.dispose();
      return w;
    };
    return { runner, weights, logs };
  };

  it('stops the run as diverged (E_TRAIN_NONFINITE, the figure named) instead of applying it', async () => {
    const { runner, weights } = await runWith();
    await expect(runner.run()).rejects.toMatchObject({
      code: 'E_TRAIN_NONFINITE',
      message: expect.stringMatching(/^the gradient norm jumped to Infinity \(past float32\) at cifar10 step 1 \(epoch 1, lr 0\.001\) on every worker/),
    });
    // step 0 was applied, step 1 was not: the weights stay those of one honest step, all small
    expect(weights().reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThan(1);
  });

  it('with --clip-norm 1 the step is applied clipped: the run completes and no weight moves by more than the bound allows', async () => {
    const { runner, weights, logs } = await runWith(1);
    await runner.run();
    expect(logs.some((l) => /step 1: every worker's gradient norm jumped past 1000× the recent median \(Infinity\): accepted as the model's/.test(l))).toBe(true);
    expect(logs.some((l) => /--clip-norm 1 scaled the gradient of [1-4] of 4 steps/.test(l))).toBe(true);
    // lr 0.001 x (clipped gradient + momentum): each of the 4 steps moves a weight by far less than 0.01
    expect(weights().reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThan(1);
  });
});
