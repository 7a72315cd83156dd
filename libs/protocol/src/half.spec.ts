import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, HALF_BLOCK, halfToFloatTable } from './half.js';

/** A gradient-like vector: magnitudes from 1e-9 to 1e5 (past float16's 65504), both signs. */
function spread(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (-9 + ((i * 7919) % 1400) / 100) * (1 + ((i * 31) % 97) / 97));
}

describe('float16 / bfloat16 gradients', () => {
  it('float16 table: known bit patterns', () => {
    const t = halfToFloatTable();
    expect(t[0x3c00]).toBe(1);
    expect(t[0xc000]).toBe(-2);
    expect(t[0x7bff]).toBe(65504);
    expect(t[0x0001]).toBe(2 ** -24);
    expect(t[0x7c00]).toBe(Number.POSITIVE_INFINITY);
    expect(t[0xfc00]).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(t[0x7e00])).toBe(true);
  });

  it('float16 with block scales: every value within 2^-11 relative in the normal range (>= scale * 2^-14), within scale * 2^-25 below, never overflowing', () => {
    const g = spread(10 * HALF_BLOCK + 123);
    const enc = encodeHalf(g, 'float16');
    expect(enc.values).toBeInstanceOf(Uint16Array);
    expect(enc.scales).toHaveLength(11);
    const back = decodeHalf(enc);
    for (let b = 0; b * HALF_BLOCK < g.length; b++) {
      const block = g.subarray(b * HALF_BLOCK, (b + 1) * HALF_BLOCK);
      const max = Math.max(...Array.from(block, Math.abs));
      const scale = enc.scales?.[b] as number;
      // the block's largest magnitude lands in [2^14, 2^15] once divided by its power-of-two scale
      expect(max / scale).toBeGreaterThanOrEqual(2 ** 14);
      expect(max / scale).toBeLessThanOrEqual(2 ** 15);
      for (let i = b * HALF_BLOCK; i < Math.min(g.length, (b + 1) * HALF_BLOCK); i++) {
        const v = g[i] as number;
        const err = Math.abs((back[i] as number) - v);
        expect(Number.isFinite(back[i] as number)).toBe(true);
        if (Math.abs(v) >= scale * 2 ** -14) expect(err).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11);
        else expect(err).toBeLessThanOrEqual(scale * 2 ** -25); // half of binary16's subnormal step, scaled
      }
    }
  });

  it('float16 encodes every binary16 value of a block whose largest magnitude is in [2^14, 2^15) to its own bits (scale 1)', () => {
    const t = halfToFloatTable();
    for (const start of [0x7400, 0xf400, 0x0000, 0x8000, 0x0400, 0x3c00]) {
      const bits = Uint16Array.from({ length: 1024 }, (_, i) => start + i);
      const values = Float32Array.from(bits, (h) => t[h] as number);
      values[1023] = t[0x77ff] as number; // 32752, the largest binary16 below 2^15: sets the block's scale to 1
      bits[1023] = 0x77ff;
      const enc = encodeHalf(values, 'float16');
      expect(enc.scales?.[0]).toBe(1);
      expect(Array.from(enc.values)).toEqual(Array.from(bits));
    }
  });

  it('float16 keeps 1e5 (above 65504) finite and exact to 2^-11, and rounds to nearest even', () => {
    const enc = encodeHalf(new Float32Array([1e5, -7e4, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11]), 'float16');
    const back = decodeHalf(enc);
    expect(Math.abs((back[0] as number) - 1e5) / 1e5).toBeLessThanOrEqual(2 ** -11);
    expect(Math.abs((back[1] as number) + 7e4) / 7e4).toBeLessThanOrEqual(2 ** -11);
    // scale 2^2 for max 1e5 (2^17): 1/4 encodes exactly; the ties go to even mantissas
    expect(back[2]).toBe(1);
    expect(back[3]).toBe(1);
    expect(back[4]).toBe(1 + 4 * 2 ** -11);
  });

  it('bfloat16: within 2^-8 relative, float32 range, round to nearest even', () => {
    const g = spread(5000);
    const back = decodeHalf(encodeHalf(g, 'bfloat16'));
    g.forEach((v, i) => expect(Math.abs((back[i] as number) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8));
    const exact = decodeHalf(encodeHalf(new Float32Array([3e38, 1 + 2 ** -8, 1 + 3 * 2 ** -8]), 'bfloat16'));
    expect(exact[0]).toBeCloseTo(3e38, -36);
    expect(exact[1]).toBe(1);
    expect(exact[2]).toBe(1 + 4 * 2 ** -8);
  });

  it('non-finite values stay non-finite in both dtypes (the coordinator still rejects them)', () => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const g = spread(3000);
      g[5] = Number.NaN;
      g[1500] = Number.POSITIVE_INFINITY;
      g[2999] = Number.NEGATIVE_INFINITY;
      const back = decodeHalf(encodeHalf(g, dtype));
      expect(Number.isNaN(back[5] as number)).toBe(true);
      expect(back[1500]).toBe(Number.POSITIVE_INFINITY);
      expect(back[2999]).toBe(Number.NEGATIVE_INFINITY);
      expect(back.filter((v) => !Number.isFinite(v))).toHaveLength(3);
    }
  });

  it('float16 parts (deterministic micro-batches) get their own blocks: each part decodes as if sent alone', () => {
    const a = spread(2500);
    const b = spread(2500).map((v) => v * 1e-4);
    const both = new Float32Array(5000);
    both.set(a);
    both.set(b, 2500);
    const enc = encodeHalf(both, 'float16', undefined, 2500);
    expect(enc.scales).toHaveLength(6);
    const back = decodeHalf(enc, undefined, 2500);
    expect(Array.from(back.subarray(2500))).toEqual(Array.from(decodeHalf(encodeHalf(b, 'float16'))));
    expect(Array.from(back.subarray(0, 2500))).toEqual(Array.from(decodeHalf(encodeHalf(a, 'float16'))));
  });

  it('halves the bytes: 1,250,858 values in 2,501,716 bytes (+ 1,222 float32 scales for float16)', () => {
    const g = spread(1_250_858);
    expect(encodeHalf(g, 'bfloat16').values.byteLength).toBe(2_501_716);
    const f16 = encodeHalf(g, 'float16');
    expect(f16.values.byteLength + (f16.scales?.byteLength ?? 0)).toBe(2_501_716 + 1222 * 4);
  });
});
