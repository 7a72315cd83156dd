import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf } from '@cifar-dist/protocol';
import { FlatKernels } from './simd/flat-kernels.js';
import { StreamingAverage } from './streaming-average.js';

const N = 10_000;
const gradient = (salt: number): Float32Array => Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.37 + salt) * 10 ** ((i % 7) - 5));

/** sum_k (n_k / total) * g_k in float32, left to right: the reference order. */
function reference(parts: Float32Array[], counts: number[]): Float32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const out = new Float32Array(N);
  parts.forEach((g, k) => {
    for (let i = 0; i < N; i++) out[i] = k === 0 ? (g[i] as number) * ((counts[k] as number) / total) : (out[i] as number) + (g[i] as number) * ((counts[k] as number) / total);
  });
  return out;
}

describe('StreamingAverage', () => {
  const parts = [gradient(1), gradient(2), gradient(3), gradient(4)];
  const counts = [13, 7, 0, 12];

  it('gives the same bits in any arrival order (it adds in part order), equal to the weighted mean in float32', () => {
    const expected = Buffer.from(reference([parts[0]!, parts[1]!, parts[3]!], [13, 7, 12]).buffer);
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
      const avg = new StreamingAverage(N);
      avg.begin(counts);
      order.forEach((k, j) => {
        avg.add(k, { gradients: parts[k]!, count: counts[k]! });
        expect(avg.complete).toBe(j === order.length - 1);
      });
      expect(Buffer.from(avg.mean.buffer).equals(expected), `order ${order}`).toBe(true);
      expect(avg.nonFinite.size).toBe(0);
    }
  });

  it('with the SIMD kernels: the same bits in any arrival order, float32 arithmetic rounded per operation, culprits named', () => {
    const f = Math.fround;
    const scaled = (k: number, v: number): number => f(v * f((counts[k] as number) / 32));
    const expected = Float32Array.from(parts[0]!, (v, i) => f(f(scaled(0, v) + scaled(1, parts[1]![i]!)) + scaled(3, parts[3]![i]!)));
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0]]) {
      const kernels = FlatKernels.create(N)!;
      const avg = new StreamingAverage(N, undefined, kernels);
      expect(avg.mean).toBe(kernels.mean);
      avg.begin(counts);
      order.forEach((k) => avg.add(k, { gradients: parts[k]!, count: counts[k]! }));
      expect(Buffer.from(avg.mean.buffer, avg.mean.byteOffset, avg.mean.byteLength).equals(Buffer.from(expected.buffer)), `order ${order}`).toBe(true);
    }
    const bad = gradient(9);
    bad[N - 1] = Number.POSITIVE_INFINITY;
    const avg = new StreamingAverage(N, undefined, FlatKernels.create(N));
    avg.begin([1, 1]);
    avg.add(1, { gradients: bad, count: 1 });
    avg.add(0, { gradients: parts[0]!, count: 1 });
    expect([...avg.nonFinite]).toEqual([1]);
  });

  it('decodes float16 and bfloat16 parts in the same pass: equal to averaging their decoded float32', () => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const encoded = parts.map((g) => encodeHalf(g, dtype));
      const avg = new StreamingAverage(N);
      avg.begin(counts);
      encoded.forEach((e, k) => avg.add(k, { gradients: e.values, gradDtype: dtype, ...(e.scales ? { gradScales: e.scales } : {}), count: counts[k]! }));
      const decoded = encoded.map((e) => decodeHalf(e));
      const expected = reference([decoded[0]!, decoded[1]!, decoded[3]!], [13, 7, 12]);
      let worst = 0;
      avg.mean.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (expected[i] as number)) / (Math.abs(expected[i] as number) + 1e-30))));
      // the same products summed in the same order; float16's block scale is multiplied in first
      expect(worst, dtype).toBeLessThan(1e-6);
    }
  });

  it('names the part that sent NaN or Infinity, and no part for large finite ones', () => {
    const bad = gradient(5);
    bad[4321] = Number.NaN;
    const inf = encodeHalf(gradient(6), 'float16');
    inf.values[17] = 0x7c00;
    const avg = new StreamingAverage(N);
    avg.begin([1, 1, 1]);
    avg.add(2, { gradients: inf.values, gradDtype: 'float16', gradScales: inf.scales!, count: 1 });
    avg.add(0, { gradients: parts[0]!, count: 1 });
    avg.add(1, { gradients: bad, count: 1 });
    expect([...avg.nonFinite].sort()).toEqual([1, 2]);
    // a finite float16 value whose block scale carries it past float32's range (2^15 * 2^113)
    const far = encodeHalf(gradient(8), 'float16');
    far.values[3] = 0x7800;
    far.scales![0] = 2 ** 113;
    avg.begin([1, 1]);
    avg.add(0, { gradients: parts[0]!, count: 1 });
    avg.add(1, { gradients: far.values, gradDtype: 'float16', gradScales: far.scales!, count: 1 });
    expect([...avg.nonFinite]).toEqual([1]);
    const huge = new Float32Array(N).fill(3e38);
    avg.begin([1, 1]);
    avg.add(0, { gradients: huge, count: 1 });
    avg.add(1, { gradients: huge.map((v) => v), count: 1 });
    expect(avg.nonFinite.size).toBe(0); // (3e38 + 3e38) / 2 is pre-scaled: no overflow
    expect(avg.mean[0]).toBeCloseTo(3e38, -33);
    avg.begin([1, 1]);
    avg.add(0, { gradients: new Float32Array(N).fill(3.4e38), count: 1 });
    avg.add(1, { gradients: new Float32Array(N).fill(-3.4e38), count: 1 });
    expect(avg.nonFinite.size).toBe(0);
  });

  it('refuses a gradient of the wrong length and a float16 part without its scales, naming the part', () => {
    const avg = new StreamingAverage(N);
    avg.begin([1, 1]);
    expect(() => avg.add(1, { gradients: new Float32Array(N - 1), count: 1 })).toThrow(/gradient of part 1 has 9999 values, expected 10000/);
    expect(() => avg.add(0, { gradients: new Uint16Array(N), gradDtype: 'float16', count: 1 })).toThrow(/float16 gradient of part 0 lacks its block scales/);
    avg.add(0, { gradients: parts[0]!, count: 1 });
    expect(() => avg.add(0, { gradients: parts[0]!, count: 1 })).toThrow(/part 0 of 2 offered twice or out of range/);
    expect(() => avg.add(2, { gradients: parts[0]!, count: 1 })).toThrow(/part 2 of 2 offered twice or out of range/);
  });
});
