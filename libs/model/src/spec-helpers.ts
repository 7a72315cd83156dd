/**
 * Shared by this lib's specs only (not exported from index.ts): deterministic data and backend
 * switching. tfjs backends are global per process; vitest runs each spec file in its own fork.
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmConvGradients } from './wasm-conv-gradients.js';

/** Deterministic pseudo-random floats in [-scale, scale) (mulberry32), for reproducible batches. */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (2 * u - 1) * scale;
  }
  return out;
}

/** `count` labels cycling through the classes: 0, 1, ..., k-1, 0, ... */
export function cyclicLabels(count: number, numClasses: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, i) => i % numClasses);
}

/** Loads the wasm backend, activates it and installs the conv gradients. */
export async function useWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  installWasmConvGradients();
}

/** ||a - b|| / ||b||: norm-wise relative error. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
