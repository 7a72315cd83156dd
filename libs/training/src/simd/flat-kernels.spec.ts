import { describe, expect, it } from 'vitest';
import { assembleKernels } from './assemble.js';
import { FlatKernels } from './flat-kernels.js';
import { KERNELS_WASM_BASE64 } from './kernels-binary.js';

const f = Math.fround;
const N = 10_003; // not a multiple of 4: the padding is exercised
const vec = (salt: number, scale: number): Float32Array => Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.71 + salt) * scale);
const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('FlatKernels (WebAssembly SIMD)', () => {
  it('the committed binary is kernels.wat assembled (run `npm run build:kernels` after editing it)', async () => {
    expect(Buffer.from(await assembleKernels()).toString('base64')).toBe(KERNELS_WASM_BASE64);
  });

  it('averages bit for bit as float32 arithmetic with every operation rounded', () => {
    const k = FlatKernels.create(N);
    expect(k).not.toBeNull();
    const [a, b] = [vec(1, 1e-3), vec(2, 10)];
    expect(k!.addToMean(a, 0.25, true)).toBeGreaterThan(0);
    expect(k!.addToMean(b, 0.75, false)).toBeGreaterThan(0);
    const expected = Float32Array.from(a, (v, i) => f(f(v * f(0.25)) + f((b[i] as number) * f(0.75))));
    expect(bits(k!.mean).equals(bits(expected))).toBe(true);
  });

  it('SGD with momentum (Nesterov and plain) bit for bit as float32 torch.optim.SGD, in place', () => {
    for (const nesterov of [true, false]) {
      const k = FlatKernels.create(N)!;
      const [w0, b0, g] = [vec(3, 0.05), vec(4, 1e-3), vec(5, 1e-2)];
      k.weights.set(w0);
      k.momentum.set(b0);
      k.addToMean(g, 1, true);
      const [lr, mu, wd] = [f(0.05), f(0.9), f(5e-4)];
      expect(k.sgdMomentum(lr, mu, wd, nesterov)).toBe(true);
      const w = new Float32Array(N);
      const bm = new Float32Array(N);
      for (let i = 0; i < N; i++) {
        const gi = f((g[i] as number) + f(wd * (w0[i] as number)));
        bm[i] = f(f(mu * (b0[i] as number)) + gi);
        const step = nesterov ? f(gi + f(mu * (bm[i] as number))) : (bm[i] as number);
        w[i] = f((w0[i] as number) - f(lr * step));
      }
      expect(bits(k.momentum).equals(bits(bm)), `nesterov ${nesterov}`).toBe(true);
      expect(bits(k.weights).equals(bits(w)), `nesterov ${nesterov}`).toBe(true);
    }
  });

  it('returns the sum of squares of the incoming gradient (float32 lanes), +Infinity when it overflows', () => {
    const k = FlatKernels.create(N)!;
    const g = vec(8, 0.5);
    const exact = g.reduce((s, v) => s + v * v, 0);
    const sq = k.addToMean(g, 1, true);
    // float32 accumulation in 4 lanes of ~2,500 terms each: far closer than a norm check needs
    expect(Math.abs(sq - exact) / exact).toBeLessThan(1e-5);
    expect(k.addToMean(g, 1, false)).toBe(sq);
    // finite values whose squares overflow float32 (1e30 everywhere): a finite gradient, an infinite norm
    expect(k.addToMean(new Float32Array(N).fill(1e30), 1, true)).toBe(Number.POSITIVE_INFINITY);
  });

  it('reports NaN or ±Infinity in an incoming gradient (sum NaN), and weights that became non-finite', () => {
    const k = FlatKernels.create(N)!;
    const g = vec(6, 1);
    expect(k.addToMean(g, 1, true)).toBeGreaterThan(0);
    g[N - 1] = Number.NaN; // the last value, in the padded final group of 4
    expect(k.addToMean(g, 1, false)).toBeNaN();
    g[N - 1] = 0;
    g[7] = Number.NEGATIVE_INFINITY;
    expect(k.addToMean(g, 1, true)).toBeNaN();
    k.addToMean(vec(7, 3e38), 1, true);
    k.weights.fill(3e38);
    expect(k.sgdMomentum(-1, 0.9, 0, true)).toBe(false);
  });
});
