export * from './errors.js';
export { averageGradients, type ShardGradient } from './average.js';
export { FlatOptimizer, DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerName, type OptimizerState } from './optimizer.js';
export { learningRateAt, type ScheduleConfig } from './schedule.js';
export { defaultConfig, DEFAULT_CLASS_BIAS, type TrainConfig } from './config.js';
export { mixSeed } from './seed.js';
export { WorkerRuntime } from './worker-runtime.js';
export type { WorkerInfo, WorkerLink } from './worker-link.js';
export { InProcessLink } from './in-process-link.js';
export { WorkerPool } from './worker-pool.js';
export * from './phase-runner.js';
export * from './checkpoint.js';
export { saveLayersModel, loadLayersModel, layersModelFiles } from './model-files.js';
export { writeFileAtomic, writeDirAtomic, sha256 } from './atomic-files.js';
export * from './report.js';
export { REFERENCE, COMPARED_METRICS, type ComparedMetric, type ReferenceSplit } from './reference.js';
export { runTraining, type RunOptions } from './run.js';
export { SocketCoordinatorServer, type SocketServerOptions } from './transport/socket-server.js';
export { runSocketWorker, type SocketWorkerOptions } from './transport/socket-worker.js';
export { ZeroComputeRuntime } from './zero-compute-runtime.js';
export { ShardedCompute, microBatchCounts, type ModelSource, type Reduction, type ShardedBatch, type ShardedResult } from './sharded-compute.js';
export { PartCollector } from './part-collector.js';
export { NodeRuntime, NODE_TIMEOUT_SHARE, nodeRequestTimeout, type NodeRuntimeOptions } from './node-runtime.js';
export * from './run-folder.js';
export * from './frame-budget.js';
export * from './duration.js';
export { finetunePrior, logitAdjustment, classBiasVector, checkClassBias, formatClassBias } from './logit-adjust.js';
export {
  sweepLogitTau,
  chooseLogitTau,
  chooseClassBias,
  chooseRecallFloor,
  recallFloorGrid,
  heldOutReport,
  recallFloorWithMargin,
  type PriorSweepInput,
  type PriorSweepRow,
  type ClassBiasChoice,
  type RecallFloorChoice,
  type RecallFloorTrial,
} from './prior-sweep.js';
