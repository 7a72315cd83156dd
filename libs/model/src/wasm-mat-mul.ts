import * as tf from '@tensorflow/tfjs';
import { free, runConfig, transpose, type KernelArgs } from './wasm-kernel-utils.js';

/**
 * BatchMatMul for the wasm backend that keeps transposed products on XNNPACK. tfjs-backend-wasm
 * 4.22 takes XNNPACK's fully-connected operator only for `!transposeA && !transposeB` with a batch
 * of 1, and otherwise runs a scalar blocked loop (about 10x slower). The dense layers' gradients
 * are exactly the transposed case: dW = x^T dy ([2304, 64] x [64, 512]) and dx = dy W^T
 * ([64, 512] x [512, 2304]). Materialising the transpose (one Transpose kernel) and calling the
 * fast path is cheaper. Anything else goes to the stock kernel.
 *
 * @param stock the stock wasm BatchMatMul config, captured before this replaced it.
 */
export function makeWasmBatchMatMul(stock: tf.KernelConfig): tf.KernelFunc {
  const batchMatMul = (args: KernelArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const batchOf = (t: tf.TensorInfo) => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if ((!transposeA && !transposeB) || batchOf(a) !== 1 || batchOf(b) !== 1) return runConfig(stock, args);

    const swapLast = (t: tf.TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return transpose(backend, t, perm);
    };
    const aT = transposeA ? swapLast(a) : undefined;
    const bT = transposeB ? swapLast(b) : undefined;
    try {
      return runConfig(stock, { inputs: { a: aT ?? a, b: bT ?? b }, backend, attrs: { transposeA: false, transposeB: false } });
    } finally {
      free(backend, aT, bT);
    }
  };
  return batchMatMul as unknown as tf.KernelFunc;
}
