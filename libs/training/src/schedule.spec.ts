import { describe, expect, it } from 'vitest';
import { learningRateAt } from './schedule.js';

describe('learningRateAt', () => {
  const cfg = { lr: 0.1, warmupEpochs: 1, decay: 'cosine' as const, minFactor: 0.01 };
  it('warms up linearly from lr/10, peaks, then decays by cosine to lr*minFactor', () => {
    expect(learningRateAt(cfg, 0, 100, 10)).toBeCloseTo(0.01, 10);
    expect(learningRateAt(cfg, 5, 100, 10)).toBeCloseTo(0.055, 10);
    expect(learningRateAt(cfg, 10, 100, 10)).toBeCloseTo(0.1, 10);
    expect(learningRateAt(cfg, 99, 100, 10)).toBeCloseTo(0.001, 10);
    // half-way through the decay: the mean of peak and floor
    const mid = 10 + (100 - 10 - 1) / 2;
    expect(learningRateAt(cfg, mid, 100, 10)).toBeCloseTo((0.1 + 0.001) / 2, 10);
  });
  it('constant keeps the peak after warm-up', () => {
    expect(learningRateAt({ ...cfg, decay: 'constant' }, 50, 100, 10)).toBe(0.1);
  });
});
