import { describe, expect, it } from 'vitest';
import { StepHistory } from './step-history.js';

function fill(max: number, n: number): StepHistory<number> {
  const h = new StepHistory<number>(max);
  for (let i = 0; i < n; i++) h.push(i);
  return h;
}

describe('StepHistory', () => {
  it('keeps everything until full', () => {
    const h = fill(4, 4);
    expect(h.points()).toEqual([0, 1, 2, 3]);
    expect(h.stride).toBe(1);
  });

  it('drops every other point and doubles the stride when full', () => {
    const h = fill(4, 5);
    expect(h.points()).toEqual([0, 2, 4]);
    expect(h.stride).toBe(2);
    expect(h.seen).toBe(5);
  });

  it('keeps even spacing over many thinnings and never exceeds max', () => {
    const h = fill(5, 100);
    // stride 32 after four thinnings: 0, 32, 64, 96
    expect(h.points()).toEqual([0, 32, 64, 96]);
    expect(h.stride).toBe(32);
    for (let n = 1; n <= 300; n++) expect(fill(7, n).points().length).toBeLessThanOrEqual(7);
  });

  it('rejects a max below 2', () => {
    expect(() => new StepHistory(1)).toThrow(RangeError);
    expect(() => new StepHistory(2.5)).toThrow(RangeError);
  });
});
