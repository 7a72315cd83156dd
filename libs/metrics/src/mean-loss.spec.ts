import { describe, expect, it } from 'vitest';
import { MetricsError } from './errors.js';
import { meanLoss } from './mean-loss.js';

describe('meanLoss', () => {
  it('averages per-sample losses', () => {
    expect(meanLoss([1, 2, 3, 4])).toBe(2.5);
    expect(meanLoss(Float32Array.of(0.5, 0.25))).toBe(0.375);
  });

  it('accumulates float32 losses without drift (float64, exact sum)', () => {
    // 10 000 copies of float32(0.1): the exact sum 10000·x fits a double, so the mean is x itself.
    const x = Math.fround(0.1);
    const losses = new Float32Array(10000).fill(x);
    expect(meanLoss(losses)).toBe(x);
    // A float32 running sum (what a naive tensor mean can do) is visibly off.
    let f32 = 0;
    for (const v of losses) f32 = Math.fround(f32 + v);
    expect(Math.abs(f32 / 10000 - x)).toBeGreaterThan(1e-6);
  });

  it('lets a NaN loss show through', () => {
    expect(meanLoss([1, NaN])).toBeNaN();
  });

  it('throws E_METRICS_EMPTY for no losses', () => {
    expect(() => meanLoss([])).toThrow(MetricsError);
    expect(() => meanLoss(new Float32Array(0))).toThrow(/zero losses/);
    try {
      meanLoss([]);
    } catch (err) {
      expect((err as MetricsError).code).toBe('E_METRICS_EMPTY');
    }
  });
});
