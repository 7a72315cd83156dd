import * as tf from '@tensorflow/tfjs';
import { asWasm, type KernelArgs } from './wasm-kernel-utils.js';

/**
 * MaxPoolGrad for the wasm backend, written as a plain loop over the heap views. The stock wasm
 * kernel goes through a generic 3-D pooling template (~32 ms for the [64,30,30,32] pool of a
 * 64-image step, 10x its forward pool); this loop is a few ms. It also settles two differences
 * with the cpu backend: ties go to the FIRST maximum in window scan order (row, then column), as
 * tfjs-backend-cpu does (the stock wasm kernel takes the last), and windows whose values are all
 * <= 0 still route their gradient (the stock kernel seeds its max with FLT_MIN, so such windows
 * drop it; harmless after a relu, wrong otherwise).
 *
 * inputs: dy [b, outH, outW, c], input x [b, H, W, c], output y (unused: the max is recomputed);
 * attrs: filterSize, strides, pad, dimRoundingMode (no dilation in MaxPoolGrad). Returns dx like x.
 */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const wasm = asWasm(backend);
  const out = wasm.makeOutput(input.shape, 'float32');
  // Views only after the last allocation: a heap growth detaches earlier views.
  const x = wasm.typedArrayFromHeap(input) as Float32Array;
  const g = wasm.typedArrayFromHeap(dy) as Float32Array;
  const dx = wasm.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);

  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(0, oh * sh - top);
      const h1 = Math.min(H, oh * sh - top + fh);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(0, ow * sw - left);
        const w1 = Math.min(W, ow * sw - left + fw);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const base = ((b * H + h) * W + w) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              // Strict '>': the first maximum in scan order wins, as in tfjs-backend-cpu.
              if (v > best[c]) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const gBase = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) if (where[c] >= 0) dx[where[c]] += g[gBase + c];
      }
    }
  }
  return out;
}

export const wasmMaxPoolGrad = maxPoolGrad as unknown as tf.KernelFunc;
