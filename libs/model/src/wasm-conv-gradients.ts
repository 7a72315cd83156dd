import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';
import { makeWasmBatchMatMul } from './wasm-mat-mul.js';
import { wasmMaxPoolGrad } from './wasm-max-pool-grad.js';
import { makeWasmSum } from './wasm-sum.js';
import { free, runConfig, runWasm, transpose, WASM, wasmKernelConfig, type KernelArgs } from './wasm-kernel-utils.js';

/*
 * Why kernels and not a Conv2D gradient: tfjs-layers' Conv2D (linear activation, as in the
 * reference network where relu is a separate layer) runs `tf.fused.conv2d`, whose gradient is a
 * customGrad that calls the Conv2DBackpropInput / Conv2DBackpropFilter kernels directly and never
 * consults the gradient registry. A replacement `registerGradient('Conv2D')` therefore does not
 * reach the model. Replacing the two backprop kernels for the 'wasm' backend does, for both the
 * fused and the plain conv2d path, and is scoped to wasm (native backends keep their own kernels).
 */

/** The stock wasm kernels we replace and still delegate to, captured at install time. */
interface Originals {
  conv2DBackpropInput: tf.KernelConfig;
}
let originals: Originals | undefined;

/** Stride-1, dilation-1 NHWC conv2d with explicit padding [[top, bottom], [left, right]]. */
function conv(backend: tf.KernelBackend, x: tf.TensorInfo, filter: tf.TensorInfo, pads: [[number, number], [number, number]]): tf.TensorInfo {
  return runWasm(tf.Conv2D, backend, { x, filter }, {
    strides: [1, 1],
    pad: [[0, 0], pads[0], pads[1], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
  });
}

type Shape4 = [number, number, number, number];

/** Forward conv geometry (pads resolved from 'same'/'valid'/explicit) of a stride-1 NHWC conv. */
function geometry(xShape: Shape4, filterShape: Shape4, attrs: tf.Conv2DBackpropFilterAttrs | tf.Conv2DBackpropInputAttrs) {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const supported = attrs.dataFormat === 'NHWC' && info.strideHeight === 1 && info.strideWidth === 1;
  return { info, supported };
}

/**
 * dW of a stride-1 conv, as one forward conv:
 *   dW[p,q,ci,co] = sum_{b,i,j} xpad[b, i+p, j+q, ci] * dy[b, i, j, co]
 * = conv2d(x^T [ci, H, W, b] padded like the forward pass, filter dy^T [Ho, Wo, b, co], valid)
 *   -> [ci, kh, kw, co], transposed to [kh, kw, ci, co].
 * The batch becomes the channel (reduction) axis and the output map becomes a 'filter', so the
 * whole reduction runs in XNNPACK's conv GEMM.
 *
 * inputs: x [b, H, W, ci], dy [b, Ho, Wo, co]; attrs.filterShape [kh, kw, ci, co].
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { info, supported } = geometry(x.shape as Shape4, a.filterShape, a);
  if (!supported) {
    throw new ModelError(
      'E_WASM_CONV_UNSUPPORTED',
      `wasm Conv2DBackpropFilter handles stride-1 NHWC convs only (strides ${String(a.strides)}, ${a.dataFormat})`,
    );
  }
  const { top, bottom, left, right } = info.padInfo;
  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  let out: tf.TensorInfo | undefined;
  try {
    out = conv(backend, xT, dyT, [
      [top, bottom],
      [left, right],
    ]);
    return transpose(backend, out, [1, 2, 0, 3]);
  } finally {
    free(backend, xT, dyT, out);
  }
}

/**
 * dx of a stride-1 conv, as one forward conv (a "full" correlation with the flipped filter):
 *   dx[b,y,x,ci] = sum_{p,q,co} dy[b, y+top-p, x+left-q, co] * W[p,q,ci,co]
 * = conv2d(dy padded by (kh-1-top, kh-1-bottom) x (kw-1-left, kw-1-right),
 *          W reversed in (kh, kw) and transposed to [kh, kw, co, ci]).
 * Replaces the wasm backend's Conv2DBackpropInput (a plain loop) with XNNPACK's conv.
 *
 * inputs: dy [b, Ho, Wo, co], filter [kh, kw, ci, co]; attrs.inputShape [b, H, W, ci].
 */
function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const { info, supported } = geometry(a.inputShape, filter.shape as Shape4, a);
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const { top, bottom, left, right } = info.padInfo;
  const pads: [[number, number], [number, number]] = [
    [kh - 1 - top, kh - 1 - bottom],
    [kw - 1 - left, kw - 1 - right],
  ];
  if (!supported || pads.flat().some((p) => p < 0)) {
    return runConfig(originalKernels().conv2DBackpropInput, args);
  }
  const flipped = runWasm(tf.Reverse, backend, { x: filter }, { dims: [0, 1] });
  const swapped = transpose(backend, flipped, [0, 1, 3, 2]);
  free(backend, flipped);
  try {
    return conv(backend, dy, swapped, pads);
  } finally {
    free(backend, swapped);
  }
}

function originalKernels(): Originals {
  if (originals === undefined) throw new ModelError('E_BACKEND_UNAVAILABLE', 'wasm conv gradients are not installed');
  return originals;
}

/**
 * Makes conv-net training work, and fast, on the wasm backend by registering wasm kernels:
 * - Conv2DBackpropFilter (missing from tfjs-backend-wasm 4.22) and Conv2DBackpropInput (a plain
 *   loop there), each one stride-1 conv2d on transposed/padded/reversed tensors, run by XNNPACK;
 * - BatchMatMul that routes transposed single-batch products (the dense layers' gradients) to
 *   XNNPACK's fully-connected operator (see wasm-mat-mul.ts);
 * - MaxPoolGrad as a direct loop (see wasm-max-pool-grad.ts);
 * - Sum over leading axes (bias gradients) without the stock kernel's transpose (wasm-sum.ts).
 * Each was checked against the cpu backend on random inputs (wasm-conv-gradients.spec.ts).
 *
 * Registrations are per backend ('wasm' only), so this never changes what a native backend runs;
 * selectBackend calls it when it picks wasm. Idempotent. Requires @tensorflow/tfjs-backend-wasm
 * to have been imported (its kernels must be registered).
 *
 * @throws ModelError E_BACKEND_UNAVAILABLE when the wasm kernels are not registered.
 */
export function installWasmConvGradients(): void {
  if (originals !== undefined) return;
  const stock = {
    conv2DBackpropInput: wasmKernelConfig(tf.Conv2DBackpropInput),
    batchMatMul: wasmKernelConfig(tf.BatchMatMul),
    maxPoolGrad: wasmKernelConfig(tf.MaxPoolGrad),
    sum: wasmKernelConfig(tf.Sum),
  };
  // Fail before replacing anything if a kernel we compose is missing.
  for (const name of [tf.Conv2D, tf.Transpose, tf.Reverse]) wasmKernelConfig(name);
  originals = { conv2DBackpropInput: stock.conv2DBackpropInput };
  const replacements: tf.KernelConfig[] = [
    { kernelName: tf.Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc },
    // Keep the stock configs' setup/dispose hooks: a re-initialised wasm backend runs setupFunc of
    // the registered kernel, and the stock kernels we delegate to need theirs (cwrap of C++).
    { ...stock.conv2DBackpropInput, kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc },
    { ...stock.batchMatMul, kernelFunc: makeWasmBatchMatMul(stock.batchMatMul) },
    { ...stock.maxPoolGrad, kernelFunc: wasmMaxPoolGrad },
    { ...stock.sum, kernelFunc: makeWasmSum(stock.sum) },
  ];
  for (const config of replacements) {
    // registerKernel would overwrite too, but with a console warning per kernel.
    if (tf.getKernel(config.kernelName, WASM) !== undefined) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
  }
}

/** True once {@link installWasmConvGradients} has replaced the wasm kernels. */
export function wasmConvGradientsInstalled(): boolean {
  return originals !== undefined;
}
