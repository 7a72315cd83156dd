import { describe, expect, it } from 'vitest';
import { shardRanges } from './shard';
import { expectThrowsData } from './spec-helpers';

const sizes = (r: Array<{ start: number; end: number }>) => r.map(({ start, end }) => end - start);

describe('shardRanges', () => {
  it('100 over 3 -> 34, 33, 33 as contiguous ranges', () => {
    expect(shardRanges(100, 3)).toEqual([
      { start: 0, end: 34 },
      { start: 34, end: 67 },
      { start: 67, end: 100 },
    ]);
  });

  it('1 over 3 -> 1, 0, 0; 0 over 2 -> 0, 0; 64 over 1 -> 64', () => {
    expect(sizes(shardRanges(1, 3))).toEqual([1, 0, 0]);
    expect(shardRanges(0, 2)).toEqual([
      { start: 0, end: 0 },
      { start: 0, end: 0 },
    ]);
    expect(shardRanges(64, 1)).toEqual([{ start: 0, end: 64 }]);
  });

  it('covers the batch exactly with sizes differing by at most one, larger first', () => {
    for (const b of [0, 1, 5, 63, 64, 127, 1000]) {
      for (const n of [1, 2, 3, 4, 7, 16]) {
        const r = shardRanges(b, n);
        expect(r).toHaveLength(n);
        expect(r[0].start).toBe(0);
        expect(r[n - 1].end).toBe(b);
        for (let k = 1; k < n; k++) expect(r[k].start).toBe(r[k - 1].end);
        const s = sizes(r);
        expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
        expect([...s].sort((x, y) => y - x)).toEqual(s);
      }
    }
  });

  it('throws on n < 1, negative or fractional sizes', () => {
    expectThrowsData(() => shardRanges(10, 0), 'E_DATA_ARGUMENT');
    expectThrowsData(() => shardRanges(-1, 2), 'E_DATA_ARGUMENT');
    expectThrowsData(() => shardRanges(10, 1.5), 'E_DATA_ARGUMENT');
    expectThrowsData(() => shardRanges(2.5, 2), 'E_DATA_ARGUMENT');
  });
});
