import { describe, expect, it } from 'vitest';
import { logitAdjustment } from './logit-adjust.js';
import { chooseLogitTau, sweepLogitTau } from './prior-sweep.js';

/** Labels of a 3-class set: 10 of class 0, 10 of class 1, 1 of class 2. */
const LABELS = Uint8Array.from([...new Array<number>(10).fill(0), ...new Array<number>(10).fill(1), 2]);

describe('logitAdjustment', () => {
  it('tau 0: ln(repeats), the natural prior back (what the recipe always did)', () => {
    const a = logitAdjustment(LABELS, [1, 1, 4], 0);
    expect(a[0]).toBe(0);
    expect(a[1]).toBe(0);
    expect(a[2]).toBeCloseTo(Math.log(4), 15);
  });

  it('tau 1: a uniform prior, ln 4 - ln 10 for the class 10x rarer and 4x oversampled', () => {
    const a = logitAdjustment(LABELS, [1, 1, 4], 1);
    expect(a[2]).toBeCloseTo(Math.log(4) - Math.log(10), 15); // -0.916291
    expect(a[2]).toBeCloseTo(-0.916290731874155, 12);
    expect(a.slice(0, 2)).toEqual([0, 0]);
  });

  it('refuses a tau outside [0, 1] and a class without images', () => {
    expect(() => logitAdjustment(LABELS, [1, 1, 4], 1.5)).toThrow(/tau must be in \[0, 1\]/);
    expect(() => logitAdjustment(LABELS, [1, 1, 4, 1], 0)).toThrow(/class 3 has no training image/);
  });
});

describe('sweepLogitTau', () => {
  // Two held-out samples of the rare class 2 and two of class 0. Raw logits (no adjustment
  // applied): the rare-class samples lean to class 0 by 0.5 nats, which only a uniform prior
  // (raising class 2 by ln 10 - ln 4 = 0.916 nats over tau 0) overturns.
  const logits = Float32Array.from([
    1, 0, 0.5, // true 2
    1, 0, 0.5, // true 2
    3, 0, 0, // true 0
    3, 0, 0, // true 0
  ]);
  const labels = Uint8Array.from([2, 2, 0, 0]);
  const input = { logits, labels, classNames: ['a', 'b', 'c'], trainLabels: LABELS, repeats: [1, 1, 4], applied: null, taus: [0, 1] };

  it('tau 0 misses the rare class, tau 1 finds it; losses are the exact cross-entropies', () => {
    const [t0, t1] = sweepLogitTau(input);
    expect(t0?.report.perClass[2]?.recall).toBe(0);
    expect(t1?.report.perClass[2]?.recall).toBe(1);
    expect(t1?.report.accuracy).toBe(1);
    // tau 0: class 2's logit lowered by ln 4 -> row (1, 0, 0.5 - ln 4)
    const ce = (row: number[], y: number): number => Math.log(row.reduce((s, z) => s + Math.exp(z), 0)) - (row[y] as number);
    const rare0 = ce([1, 0, 0.5 - Math.log(4)], 2);
    const common0 = ce([3, 0, -Math.log(4)], 0);
    expect(t0?.report.loss).toBeCloseTo((2 * rare0 + 2 * common0) / 4, 6);
    expect(chooseLogitTau([t0!, t1!]).tau).toBe(1);
  });

  it('undoes the adjustment already applied to the saved model', () => {
    const applied = logitAdjustment(LABELS, [1, 1, 4], 0);
    const saved = Float32Array.from(logits.map((z, i) => z - (applied[i % 3] as number)));
    const fromSaved = sweepLogitTau({ ...input, logits: saved, applied });
    const fromRaw = sweepLogitTau(input);
    expect(fromSaved.map((r) => r.report.confusionMatrix)).toEqual(fromRaw.map((r) => r.report.confusionMatrix));
    expect(fromSaved[1]?.report.loss).toBeCloseTo(fromRaw[1]?.report.loss as number, 6);
  });

  it('refuses logits of the wrong length', () => {
    expect(() => sweepLogitTau({ ...input, logits: new Float32Array(11) })).toThrow(/logits hold 11 values, 4 samples x 3 classes need 12/);
  });
});
