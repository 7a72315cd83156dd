import { describe, expect, it } from 'vitest';
import { averageGradients } from './average.js';
import { TrainingError } from './errors.js';

describe('averageGradients', () => {
  it('weights each shard by its sample count', () => {
    const avg = averageGradients(
      [
        { gradients: new Float32Array([1, 2]), count: 3 },
        { gradients: new Float32Array([4, -1]), count: 1 },
      ],
      2,
    );
    // (3*1 + 1*4)/4 = 1.75, (3*2 - 1)/4 = 1.25
    expect(Array.from(avg)).toEqual([1.75, 1.25]);
  });

  it('writes into a given buffer, overwriting what was there, and refuses one of the wrong length', () => {
    const out = new Float32Array([99, 99]);
    const parts = [
      { gradients: new Float32Array([1, 2]), count: 3 },
      { gradients: new Float32Array([4, -1]), count: 1 },
    ];
    expect(averageGradients(parts, 2, out)).toBe(out);
    expect(Array.from(out)).toEqual([1.75, 1.25]);
    expect(() => averageGradients(parts, 2, new Float32Array(3))).toThrow(TrainingError);
  });

  it('equals the mean of per-sample gradients for unequal shards (34/33/33)', () => {
    const perSample = Array.from({ length: 100 }, (_, i) => new Float32Array([Math.sin(i), i / 7]));
    const mean = [0, 0];
    for (const g of perSample) {
      mean[0] += (g[0] as number) / 100;
      mean[1] += (g[1] as number) / 100;
    }
    const shard = (a: number, b: number) => {
      const g = new Float32Array(2);
      for (let i = a; i < b; i++) {
        g[0] += (perSample[i]?.[0] as number) / (b - a);
        g[1] += (perSample[i]?.[1] as number) / (b - a);
      }
      return { gradients: g, count: b - a };
    };
    const avg = averageGradients([shard(0, 34), shard(34, 67), shard(67, 100)], 2);
    expect(avg[0]).toBeCloseTo(mean[0] as number, 6);
    expect(avg[1]).toBeCloseTo(mean[1] as number, 6);
  });

  it('skips empty shards and rejects wrong lengths or no samples', () => {
    expect(Array.from(averageGradients([{ gradients: new Float32Array(0), count: 0 }, { gradients: new Float32Array([2]), count: 5 }], 1))).toEqual([2]);
    expect(() => averageGradients([{ gradients: new Float32Array(3), count: 1 }], 2)).toThrow(/shard 0 has 3 values, expected 2/);
    expect(() => averageGradients([{ gradients: new Float32Array(0), count: 0 }], 2)).toThrow(TrainingError);
  });
});
