import { describe, expect, it } from 'vitest';
import { COMPARED_METRICS, REFERENCE } from './reference.js';

describe('REFERENCE', () => {
  it('each confusion matrix gives the published accuracy and the published image counts', () => {
    const expected = { cifar10: { test: 10000, train: 50000 }, finetune: { test: 10400, train: 52000 } } as const;
    for (const phase of ['cifar10', 'finetune'] as const) {
      for (const split of ['test', 'train'] as const) {
        const s = REFERENCE[phase][split];
        expect(s.report.samples).toBe(expected[phase][split]);
        // to the published digits (the CIFAR-10 training matrix gives 35,419 / 50,000 = 0.70838, printed 0.70837)
        expect(Math.abs(s.report.accuracy - s.accuracy)).toBeLessThanOrEqual(1.5e-5);
        // every class has its full support: 1000/100 per class in the test set, 5000/500 in the training set
        const per = split === 'test' ? [1000, 100] : [5000, 500];
        s.report.perClass.forEach((c, i) => expect(c.support).toBe(i < 10 ? per[0] : per[1]));
      }
    }
  });

  it('the fine-tune test matrix gives the macro and weighted figures issue 15 quotes', () => {
    const r = REFERENCE.finetune.test.report;
    expect([r.precisionMacro, r.recallMacro, r.f1Macro].map((x) => x.toFixed(4))).toEqual(['0.7341', '0.7231', '0.7236']);
    expect([r.precisionWeighted, r.recallWeighted, r.f1Weighted].map((x) => x.toFixed(4))).toEqual(['0.7353', '0.7277', '0.7293']);
    // the published, rounded figures agree to two decimals
    expect(r.f1Weighted.toFixed(2)).toBe(String(REFERENCE.finetune.test.published.f1));
  });

  it('compares eight figures: accuracy, loss, then precision/recall/F1 macro and weighted', () => {
    expect(COMPARED_METRICS.map((m) => m.label)).toEqual([
      'accuracy', 'loss', 'precision (macro)', 'recall (macro)', 'F1 (macro)', 'precision (weighted)', 'recall (weighted)', 'F1 (weighted)',
    ]);
    expect(COMPARED_METRICS.filter((m) => !m.higherIsBetter).map((m) => m.label)).toEqual(['loss']);
  });
});
