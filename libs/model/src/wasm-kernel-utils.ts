import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ModelError } from './errors.js';

/*
 * Helpers for kernels that replace or add wasm kernels. They compose the wasm backend's own
 * kernels at the kernel level: intermediates are backend TensorInfos made by those kernels and
 * freed with backend.disposeData, the way tfjs-backend-wasm composes its own kernels. (Calling tf
 * ops from inside a kernel and handing back a kept tensor's dataId corrupts the engine's
 * bookkeeping: seen here as a stack overflow in moveData on the next read.)
 */

export const WASM = 'wasm';

/** What a kernel function receives. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** A registered wasm kernel's config. @throws ModelError E_BACKEND_UNAVAILABLE when absent. */
export function wasmKernelConfig(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, WASM);
  if (config === undefined) {
    throw new ModelError(
      'E_BACKEND_UNAVAILABLE',
      `wasm kernel ${name} is not registered: import @tensorflow/tfjs-backend-wasm before installing the wasm kernels`,
    );
  }
  return config;
}

/** Runs the currently registered wasm kernel `name`. */
export function runWasm(name: string, backend: tf.KernelBackend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  return wasmKernelConfig(name).kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
}

/** Runs a captured kernel config (an original we replaced) with the same argument shape. */
export function runConfig(config: tf.KernelConfig, args: KernelArgs): tf.TensorInfo {
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/** Releases intermediates made by kernels (refcounted by the backend). */
export function free(backend: tf.KernelBackend, ...infos: Array<tf.TensorInfo | undefined>): void {
  for (const info of infos) if (info !== undefined) backend.disposeData(info.dataId);
}

/** Transpose kernel. */
export function transpose(backend: tf.KernelBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasm(tf.Transpose, backend, { x }, { perm });
}

/** The wasm backend's own API (makeOutput, heap views), which KernelBackend does not declare. */
export function asWasm(backend: tf.KernelBackend): BackendWasm {
  const b = backend as unknown as Partial<BackendWasm>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') {
    throw new ModelError('E_BACKEND_UNAVAILABLE', 'kernel called with a backend that is not tfjs-backend-wasm');
  }
  return backend as unknown as BackendWasm;
}
