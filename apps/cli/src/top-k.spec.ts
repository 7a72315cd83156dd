import { describe, expect, it } from 'vitest';
import { formatPredictions, topK } from './top-k.js';

const names = ['a', 'bb', 'c', 'd'];

describe('topK', () => {
  it('ranks by probability, equal probabilities in class order', () => {
    expect(topK([0.1, 0.5, 0.2, 0.2], 3, names)).toEqual([
      { class: 'bb', probability: 0.5 },
      { class: 'c', probability: 0.2 },
      { class: 'd', probability: 0.2 },
    ]);
  });

  it('returns every class when k exceeds their number', () => {
    expect(topK([0.4, 0.3, 0.2, 0.1], 9, names).map((r) => r.class)).toEqual(['a', 'bb', 'c', 'd']);
  });
});

describe('formatPredictions', () => {
  it('prints the file, then one padded line per class with 4 decimals, files separated by a blank line', () => {
    const text = formatPredictions([
      { file: 'x.png', top: [{ class: 'bb', probability: 0.56789 }, { class: 'a', probability: 0.1 }] },
      { file: 'y.jpg', top: [{ class: 'c', probability: 1 }, { class: 'a', probability: 0 }] },
    ]);
    expect(text).toBe('x.png\n  bb  0.5679\n  a   0.1000\n\ny.jpg\n  c   1.0000\n  a   0.0000\n');
  });
});
