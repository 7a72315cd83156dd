import { describe, expect, it } from 'vitest';
import { defaultConfig, DEFAULT_CLASS_BIAS } from './config.js';
import { checkClassBias, classBiasVector, finetunePrior, formatClassBias, logitAdjustment } from './logit-adjust.js';
import { SHARED_DATA } from './test-support.js';
import { chooseClassBias, chooseLogitTau, chooseRecallFloor, heldOutReport, recallFloorGrid, recallFloorWithMargin, sweepLogitTau } from './prior-sweep.js';

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

describe('finetunePrior with a class bias', () => {
  // Ten CIFAR-10 classes of 10 images each, two added classes of 1 image each.
  const names = [...Array.from({ length: 10 }, (_, c) => `c${c}`), 'snail', 'worm'];
  const labels = Uint8Array.from([...Array.from({ length: 100 }, (_, i) => i % 10), 10, 11]);
  const config = { finetuneOversample: 4, finetuneLogitAdjust: true, finetuneLogitTau: 0.5, finetuneClassBias: { worm: 0.3 } };

  it('lowers each added class by ln(repeats) + tau ln(n/n_max) less its bias', () => {
    const { repeats, adjust } = finetunePrior(config, labels, names);
    expect(repeats).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4]);
    expect(adjust?.slice(0, 10)).toEqual(new Array(10).fill(0));
    // ln 4 + 0.5 ln 0.1 = 0.235002..., worm 0.3 less
    expect(adjust?.[10]).toBeCloseTo(Math.log(4) + 0.5 * Math.log(0.1), 15);
    expect(adjust?.[10]).toBeCloseTo(0.2350018146, 9);
    expect(adjust?.[11]).toBeCloseTo(0.2350018146 - 0.3, 9);
  });

  it('a bias alone is an adjustment; --no-logit-adjust applies neither', () => {
    const plain = { finetuneOversample: 1, finetuneLogitAdjust: true, finetuneLogitTau: 0 };
    expect(finetunePrior(plain, labels, names).adjust).toBeNull();
    expect(finetunePrior({ ...plain, finetuneClassBias: { snail: 0.5 } }, labels, names).adjust?.[10]).toBe(-0.5);
    expect(finetunePrior({ ...config, finetuneLogitAdjust: false }, labels, names).adjust).toBeNull();
  });

  it('refuses a name that is not an added class, and a value that is not finite', () => {
    expect(() => finetunePrior({ ...config, finetuneClassBias: { snial: 1 } }, labels, names)).toThrow(
      "--class-bias names 'snial', which is not an added class of this fine-tune (snail, worm)",
    );
    expect(() => finetunePrior({ ...config, finetuneClassBias: { c3: 1 } }, labels, names)).toThrow(/names 'c3', which is not an added class/);
    expect(() => finetunePrior({ ...config, finetuneClassBias: { worm: Number.NaN } }, labels, names)).toThrow(/gives worm the value NaN/);
  });

  it('refuses `__proto__` as a name like any other that is not an added class', () => {
    expect(() => classBiasVector(JSON.parse('{"__proto__": 1}') as Record<string, number>, names)).toThrow(/names '__proto__', which is not an added class/);
  });

  it('checkClassBias refuses a wrong name, or a bias without the adjustment, before the run', async () => {
    await expect(checkClassBias(defaultConfig())).resolves.toBeUndefined();
    await expect(checkClassBias(defaultConfig({ finetuneClassBias: { crab: 1 } }))).rejects.toThrow(
      /names 'crab', which is not an added class of this fine-tune \(lobster, snail, spider, worm\)/,
    );
    await expect(checkClassBias(defaultConfig({ finetune: { classes: [' crab '] }, finetuneClassBias: { crab: 1 } }))).resolves.toBeUndefined();
    await expect(checkClassBias(defaultConfig({ finetuneLogitAdjust: false, finetuneClassBias: { snail: 1 } }))).rejects.toThrow(
      '--class-bias is applied with the logit adjustment, which --no-logit-adjust turns off: give one or the other',
    );
  });

  it('checkClassBias reads a superclass\'s members from the data: 13 is crab, lobster, snail, spider, worm', async () => {
    const superclass = (bias: Record<string, number>) => defaultConfig({ dataDir: SHARED_DATA, finetune: { superclass: 13 }, finetuneClassBias: bias });
    await expect(checkClassBias(superclass({ crab: 1, worm: 0.5 }))).resolves.toBeUndefined();
    await expect(checkClassBias(superclass({ kelp: 1 }))).rejects.toThrow("--class-bias names 'kelp', which is not an added class of this fine-tune (crab, lobster, snail, spider, worm)");
  });

  it('the default bias belongs to the default added classes: another set starts with none', () => {
    expect(defaultConfig().finetuneClassBias).toEqual(DEFAULT_CLASS_BIAS);
    expect(defaultConfig({ finetune: { classes: ['crab', 'lobster'] } }).finetuneClassBias).toEqual({});
    expect(defaultConfig({ finetune: { superclass: 13 } }).finetuneClassBias).toEqual({});
    // the default classes listed in another order are still the default classes
    expect(defaultConfig({ finetune: { classes: ['worm', 'spider', 'snail', ' lobster'] } }).finetuneClassBias).toEqual(DEFAULT_CLASS_BIAS);
    expect(defaultConfig({ finetune: { classes: ['worm', 'spider', 'snail'] } }).finetuneClassBias).toEqual({});
    expect(defaultConfig({ finetuneLogitAdjust: false }).finetuneClassBias).toEqual({});
    expect(defaultConfig({ finetuneClassBias: { worm: 1 } }).finetuneClassBias).toEqual({ worm: 1 });
    expect(formatClassBias({ snail: 0.9, worm: 0.5 })).toBe('snail=0.9,worm=0.5');
    expect(formatClassBias({})).toBe('none');
  });
});

describe('recallFloorWithMargin', () => {
  it('is the goal plus the binomial standard error at the goal: 0.6 on 100 images -> 0.6 + sqrt(0.0024) = 0.64899', () => {
    expect(recallFloorWithMargin(0.6, 100)).toBeCloseTo(0.648990, 6);
    expect(recallFloorWithMargin(0.5, 25)).toBeCloseTo(0.6, 12);
    // no margin where the recall cannot vary; never above 1
    expect(recallFloorWithMargin(1, 3)).toBe(1);
    expect(recallFloorWithMargin(0.9, 1)).toBe(1);
  });

  it('takes the margin in standard errors: two of the held-out/test gap on 100 images -> 0.6 + 2 sqrt(2) 0.04899 = 0.73856', () => {
    expect(recallFloorWithMargin(0.6, 100, 2 * Math.SQRT2)).toBeCloseTo(0.738564, 6);
    expect(recallFloorWithMargin(0.6, 100, 0)).toBe(0.6);
    expect(recallFloorWithMargin(0.5, 4, 3)).toBe(1);
  });

  it('refuses a goal outside [0, 1], a count that is not a positive integer and a negative margin', () => {
    expect(() => recallFloorWithMargin(1.2, 100)).toThrow(/recall goal must be in \[0, 1\], got 1.2/);
    expect(() => recallFloorWithMargin(0.6, 0)).toThrow(/positive integer, got 0/);
    expect(() => recallFloorWithMargin(0.6, 2.5)).toThrow(/positive integer, got 2.5/);
    expect(() => recallFloorWithMargin(0.6, 100, -1)).toThrow(/margin must be >= 0 standard errors, got -1/);
  });
});

describe('chooseRecallFloor', () => {
  // Two classes, no adjustment at tau 0 (both seen once per epoch). Ten held-out images of the
  // added class 1 lean to class 0 by 0.1 i - 0.025 nats (i = 1..10): a bias of 0.1 k nats gets k
  // of them right. Two of the ten class-0 images lean to class 0 by only 0.325 and 0.725 nats:
  // biases from 0.35 and 0.75 take them.
  const margins1 = Array.from({ length: 10 }, (_, i) => -(0.1 * (i + 1) - 0.025));
  const margins0 = [-0.325, -0.725, ...new Array<number>(8).fill(-5)];
  const logits = Float32Array.from([...margins1, ...margins0].flatMap((m) => [0, m]));
  const labels = Uint8Array.from([...new Array<number>(10).fill(1), ...new Array<number>(10).fill(0)]);
  const input = { logits, labels, classNames: ['common', 'added'], trainLabels: Uint8Array.from([0, 1]), repeats: [1, 1], applied: null };
  const search = { classes: [1], floors: [0.15, 0.25, 0.35, 0.45, 0.55], step: 0.05, max: 3 };

  it('keeps the highest floor, going up, whose bias leaves macro precision at the bar; the first to fail ends it', () => {
    const choice = chooseRecallFloor(input, 0, { ...search, precisionFloor: 0.75 });
    // floor 0.15: bias 0.2, P = (2/2 + 10/18) / 2; 0.25: bias 0.3, (3/3 + 10/17) / 2;
    // 0.35: bias 0.4 takes a class-0 image, (4/5 + 9/15) / 2 = 0.7 < 0.75: the search ends there
    // (0.45 would give (5/6 + 9/14) / 2 = 0.738, still below; it is not tried).
    expect(choice.tried.map((t) => t.floor)).toEqual([0.15, 0.25, 0.35]);
    expect(choice.tried[0]?.precisionMacro).toBeCloseTo(14 / 18, 12);
    expect(choice.tried[1]?.precisionMacro).toBeCloseTo(27 / 34, 12);
    expect(choice.tried[2]?.precisionMacro).toBeCloseTo(0.7, 12);
    expect(choice.floor).toBe(0.25);
    expect(choice.bias).toEqual([0, 0.3]);
    expect(choice.report.perClass[1]?.recall).toBe(0.3);
    expect(choice.precisionKept).toBe(true);
  });

  it('with no precision bar, goes up to the highest floor; a floor the bias cannot reach ends the search', () => {
    const top = chooseRecallFloor(input, 0, { ...search, precisionFloor: 0 });
    expect(top.floor).toBe(0.55);
    expect(top.bias).toEqual([0, 0.6]);
    expect(top.tried).toHaveLength(5);
    const capped = chooseRecallFloor(input, 0, { ...search, precisionFloor: 0, max: 0.25 });
    expect(capped.floor).toBe(0.15);
    expect(capped.tried.map((t) => t.reached)).toEqual([true, false]);
    // Not even the lowest reached: it is returned, and says so.
    const short = chooseRecallFloor(input, 0, { ...search, precisionFloor: 0, max: 0.1 });
    expect([short.floor, short.reached, short.precisionKept, short.tried.length]).toEqual([0.15, false, true, 1]);
    expect(short.bias).toEqual([0, 0.1]);
  });

  it('returns the lowest floor, saying so, when even it costs too much precision', () => {
    const choice = chooseRecallFloor(input, 0, { ...search, precisionFloor: 0.8 });
    expect(choice.floor).toBe(0.15);
    expect(choice.bias).toEqual([0, 0.2]);
    expect(choice.precisionKept).toBe(false);
    expect(choice.tried).toHaveLength(1);
  });

  it('refuses no floors, floors that do not rise or leave [0, 1], and a precision bar outside [0, 1]', () => {
    expect(() => chooseRecallFloor(input, 0, { ...search, floors: [], precisionFloor: 0 })).toThrow('no recall floor to try');
    expect(() => chooseRecallFloor(input, 0, { ...search, floors: [0.3, 0.3], precisionFloor: 0 })).toThrow('the recall floors must rise within [0, 1], got 0.3, 0.3');
    expect(() => chooseRecallFloor(input, 0, { ...search, floors: [0.5, 1.2], precisionFloor: 0 })).toThrow('got 0.5, 1.2');
    expect(() => chooseRecallFloor(input, 0, { ...search, precisionFloor: 1.5 })).toThrow(/precision floor must be in \[0, 1\], got 1.5/);
  });
});

describe('recallFloorGrid', () => {
  it('on 100 images, one SE (0.649) to two SE of the gap (0.739): 0.65, 0.66, ..., 0.74, both ends covered', () => {
    const grid = recallFloorGrid(recallFloorWithMargin(0.6, 100), recallFloorWithMargin(0.6, 100, 2 * Math.SQRT2), 100);
    expect(grid).toEqual([65, 66, 67, 68, 69, 70, 71, 72, 73, 74].map((k) => k / 100));
    // each floor is exactly what a recall of k of 100 images computes to
    expect(grid[3]).toBe(68 / 100);
  });

  it('keeps a bound that is a whole image count up to rounding: 0.6 + sqrt(0.24 / 150) = 0.64 = 96 / 150', () => {
    const lowest = recallFloorWithMargin(0.6, 150);
    expect(lowest).toBeCloseTo(0.64, 12);
    const grid = recallFloorGrid(lowest, recallFloorWithMargin(0.6, 150, 2 * Math.SQRT2), 150);
    expect(grid[0]).toBe(96 / 150);
    // 0.6 + 2 sqrt(2) 0.04 = 0.7131: 106.97 images, so 107
    expect(grid.at(-1)).toBe(107 / 150);
    expect(grid).toHaveLength(12);
    expect(recallFloorGrid(1, 1, 7)).toEqual([1]);
  });

  it('refuses bounds out of order or outside [0, 1] and a count that is not a positive integer', () => {
    expect(() => recallFloorGrid(0.7, 0.6, 100)).toThrow(/0 <= lowest <= highest <= 1, got 0.7 and 0.6/);
    expect(() => recallFloorGrid(0.6, 1.1, 100)).toThrow(/got 0.6 and 1.1/);
    expect(() => recallFloorGrid(0.6, 0.7, 0)).toThrow(/positive integer, got 0/);
  });
});

describe('chooseClassBias', () => {
  // The sweep's example: the two class-2 samples lean to class 0 by 0.5 nats before adjustment.
  const logits = Float32Array.from([1, 0, 0.5, 1, 0, 0.5, 3, 0, 0, 3, 0, 0]);
  const input = { logits, labels: Uint8Array.from([2, 2, 0, 0]), classNames: ['a', 'b', 'c'], trainLabels: LABELS, repeats: [1, 1, 4], applied: null };

  it('at tau 0 raises class 2 by the smallest grid step past 1 + ln 4 - 0.5 = 1.886 nats', () => {
    const choice = chooseClassBias(input, 0, { classes: [2], floor: 0.5, step: 0.05, max: 3 });
    expect(choice.bias).toEqual([0, 0, 1.9]);
    expect(choice.reached).toBe(true);
    expect(choice.report.perClass[2]?.recall).toBe(1);
    // the class-0 samples stay class 0: 3 > 0.5 - ln 4 + 1.9
    expect(choice.report.accuracy).toBe(1);
  });

  it('stops at max and says the floor was not reached; adds nothing where the floor already holds', () => {
    const capped = chooseClassBias(input, 0, { classes: [2], floor: 0.5, step: 0.25, max: 1 });
    expect(capped.bias).toEqual([0, 0, 1]);
    expect(capped.reached).toBe(false);
    expect(capped.report.perClass[2]?.recall).toBe(0);
    const none = chooseClassBias(input, 1, { classes: [2], floor: 1, step: 0.05, max: 3 });
    expect(none.bias).toEqual([0, 0, 0]);
    expect(none.reached).toBe(true);
  });

  it('refuses a bad floor, step or class', () => {
    expect(() => chooseClassBias(input, 0, { classes: [2], floor: 1.5, step: 0.05, max: 3 })).toThrow(/recall floor must be in \[0, 1\]/);
    expect(() => chooseClassBias(input, 0, { classes: [2], floor: 0.5, step: 0, max: 3 })).toThrow(/step must be > 0/);
    expect(() => chooseClassBias(input, 0, { classes: [3], floor: 0.5, step: 0.05, max: 3 })).toThrow(/class index 3 is not one of 0..2/);
  });
});

describe('choose-prior on a model saved with the adjustment and a class bias', () => {
  // Twelve classes (ten CIFAR-10, two added), the run's prior from finetunePrior with a bias.
  const names = [...Array.from({ length: 10 }, (_, c) => `c${c}`), 'snail', 'worm'];
  const trainLabels = Uint8Array.from([...Array.from({ length: 100 }, (_, i) => i % 10), 10, 11]);
  const config = { finetuneOversample: 4, finetuneLogitAdjust: true, finetuneLogitTau: 0.3, finetuneClassBias: { snail: 0.7, worm: -0.2 } };
  const { repeats, adjust } = finetunePrior(config, trainLabels, names);
  // Logits as trained of 24 held-out samples, two per class, spread so that the taus differ.
  const labels = Uint8Array.from(Array.from({ length: 24 }, (_, i) => i % 12));
  const raw = Float32Array.from(Array.from({ length: 24 * 12 }, (_, j) => Math.sin(j * 1.7) * 2 + (j % 12 === Math.floor(j / 12) % 12 ? 0.8 : 0)));
  // What the saved model outputs: the trained logits less the adjustment (bias included).
  const saved = Float32Array.from(raw.map((z, j) => z - (adjust?.[j % 12] as number)));
  const base = { labels, classNames: names, trainLabels, repeats };

  it('undoes both, so every tau and class bias scores as on the model as trained', () => {
    const taus = [0, 0.3, 1];
    const fromSaved = sweepLogitTau({ ...base, logits: saved, applied: adjust, taus });
    const fromRaw = sweepLogitTau({ ...base, logits: raw, applied: null, taus });
    expect(fromSaved.map((r) => r.report.confusionMatrix)).toEqual(fromRaw.map((r) => r.report.confusionMatrix));
    expect(fromRaw[0]?.report.confusionMatrix).not.toEqual(fromRaw[2]?.report.confusionMatrix);
    for (const [i, r] of fromSaved.entries()) expect(r.report.loss).toBeCloseTo(fromRaw[i]?.report.loss as number, 5);
    const opts = { classes: [10, 11], floor: 1, step: 0.05, max: 3 };
    const a = chooseClassBias({ ...base, logits: saved, applied: adjust }, 0.3, opts);
    expect(a.bias).toEqual(chooseClassBias({ ...base, logits: raw, applied: null }, 0.3, opts).bias);
    // at the run's own tau and bias, the figures are the saved model's own: its argmax, its cross-entropy
    const report = heldOutReport({ ...base, logits: saved, applied: adjust }, 0.3, classBiasVector(config.finetuneClassBias, names));
    const expected = Array.from({ length: 12 }, () => new Array<number>(12).fill(0));
    let loss = 0;
    labels.forEach((y, i) => {
      const row = Array.from(saved.subarray(i * 12, i * 12 + 12));
      (expected[y] as number[])[row.indexOf(Math.max(...row))] += 1;
      loss += Math.log(row.reduce((sum, z) => sum + Math.exp(z), 0)) - (row[y] as number);
    });
    expect(report.confusionMatrix).toEqual(expected);
    expect(report.loss).toBeCloseTo(loss / 24, 5);
  });
});
