import { describe, expect, it } from 'vitest';
import { shardRanges, weightedShardRanges } from './shard';
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

describe('weightedShardRanges', () => {
  it('sizes shards in proportion to the weights: 128 at 3:1 -> 96, 32; 128 at 152:114 img/s -> 73, 55', () => {
    expect(weightedShardRanges(128, [3, 1])).toEqual([
      { start: 0, end: 96 },
      { start: 96, end: 128 },
    ]);
    // 128 * 152/266 = 73.14, 128 * 114/266 = 54.86: floors 73, 54; the remainder goes to the larger fraction.
    expect(sizes(weightedShardRanges(128, [152, 114]))).toEqual([73, 55]);
  });

  it('equal weights give exactly shardRanges', () => {
    for (const b of [0, 1, 5, 63, 64, 127, 1000]) {
      for (const n of [1, 2, 3, 4, 7, 16]) {
        expect(weightedShardRanges(b, Array.from({ length: n }, () => 2.5))).toEqual(shardRanges(b, n));
      }
    }
  });

  it('gives every worker at least one sample when the batch allows, and covers the batch exactly', () => {
    expect(sizes(weightedShardRanges(10, [1000, 1, 1]))).toEqual([8, 1, 1]);
    expect(sizes(weightedShardRanges(2, [1000, 1, 1]))).toEqual([2, 0, 0]);
    for (const b of [0, 3, 64, 129]) {
      const r = weightedShardRanges(b, [0.7, 5, 1e-3, 2]);
      expect(r[0]?.start).toBe(0);
      expect(r.at(-1)?.end).toBe(b);
      for (let k = 1; k < r.length; k++) expect(r[k]?.start).toBe(r[k - 1]?.end);
    }
  });

  it('throws on no weights, a weight <= 0 or not finite, and a bad batch size', () => {
    expectThrowsData(() => weightedShardRanges(10, []), 'E_DATA_ARGUMENT');
    expectThrowsData(() => weightedShardRanges(10, [1, 0]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => weightedShardRanges(10, [1, Number.NaN]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => weightedShardRanges(-1, [1]), 'E_DATA_ARGUMENT');
  });
});
