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
    expect(k!.addToMean(a, 0.25, true)).toBe(true);
    expect(k!.addToMean(b, 0.75, false)).toBe(true);
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

  it('reports NaN or ±Infinity in an incoming gradient, and weights that became non-finite', () => {
    const k = FlatKernels.create(N)!;
    const g = vec(6, 1);
    expect(k.addToMean(g, 1, true)).toBe(true);
    g[N - 1] = Number.NaN; // the last value, in the padded final group of 4
    expect(k.addToMean(g, 1, false)).toBe(false);
    g[N - 1] = 0;
    g[7] = Number.NEGATIVE_INFINITY;
    expect(k.addToMean(g, 1, true)).toBe(false);
    k.addToMean(vec(7, 3e38), 1, true);
    k.weights.fill(3e38);
    expect(k.sgdMomentum(-1, 0.9, 0, true)).toBe(false);
  });
});
