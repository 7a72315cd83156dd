/**
 * @cifar-dist/model — the reference CNN, its flat weight layout, gradients, evaluation and the
 * TensorFlow.js backend ladder. Every package uses the `tf` re-exported here, so there is one
 * tfjs engine (one backend, one kernel registry) per process.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export { ModelError, type ModelErrorCode } from './errors.js';
export {
  createModel,
  type ModelOptions,
  INPUT_SHAPE,
  INPUT_SIZE,
  MAX_CLASSES,
  REFERENCE_DROPOUT_RATES,
} from './architecture.js';
export { modelSummary, formatThousands } from './summary.js';
export { countParams, type ParamCounts } from './param-count.js';
export { replaceHead, type ReplaceHeadOptions } from './head.js';
export { freezeLayers } from './freeze.js';
export {
  weightSpecs,
  getWeightsFlat,
  readWeightsFlat,
  setWeightsFlat,
  flatLength,
  type WeightSpec,
  type WeightSelection,
} from './flat-weights.js';
export { computeGradients, type GradientResult } from './gradients.js';
export type { DropoutMaskSource } from './forward.js';
export { evaluateBatch, predictLogits, type EvaluationResult } from './evaluate.js';
export {
  selectBackend,
  describeAdapter,
  BACKEND_MODULES,
  BACKEND_NAMES,
  type BackendName,
  type BackendAttempt,
  type BackendChoice,
  type SelectBackendOptions,
} from './backend.js';
export { installWasmConvGradients, wasmConvGradientsInstalled } from './wasm-conv-gradients.js';
export { countGpus, countWebgpuAdapters, launchGpus, nodeGpuIds, tfjsNodeGpuInstalled, type GpuProbes, type LaunchGpuProbes, type LaunchGpus } from './gpus.js';
export {
  startWebgpu,
  formatAdapter,
  stopWebgpu,
  webgpuAdapter,
  listAdapters,
  probeAdapters,
  swiftShaderEnv,
  SWIFTSHADER_ICD,
  planAdapterSelection,
  parseAdapterListing,
  isEmulatedAdapterName,
  driPrimeTag,
  readNvidiaPciAddresses,
  type GpuAdapterInfo,
  type ListedAdapter,
  type AdapterProbe,
  type AdapterPlan,
  type DawnModule,
  type DawnAdapter,
  type StartWebgpuOptions,
} from './webgpu.js';
