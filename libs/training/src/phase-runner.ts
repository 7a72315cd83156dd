import {
  augmentBatch,
  CIFAR10_MEAN,
  createRng,
  cutoutBatch,
  epochPermutation,
  gatherBatch,
  oversampledIndices,
  type ImageSet,
} from '@cifar-dist/data';
import { MetricsAccumulator, type ClassificationReport } from '@cifar-dist/metrics';
import { getWeightsFlat, setWeightsFlat, weightSpecs, type tf } from '@cifar-dist/model';
import type { SetModelMessage } from '@cifar-dist/protocol';
import { ShardedCompute, type ModelSource } from './sharded-compute.js';
import { StreamingAverage } from './streaming-average.js';
import { FlatKernels } from './simd/flat-kernels.js';
import type { TrainConfig } from './config.js';
import { TrainingError } from './errors.js';
import { FlatOptimizer, type OptimizerState } from './optimizer.js';
import { learningRateAt, type ScheduleConfig } from './schedule.js';
import { mixSeed } from './seed.js';
import type { WorkerPool } from './worker-pool.js';

export type PhaseName = 'cifar10' | 'finetune';

/** The random stream of the Cutout squares (mixSeed's last word), apart from crop and flip's. */
const CUTOUT_STREAM = 0xc0;
/** Cutout's fill: the CIFAR-10 mean colour, which normalises to about 0. */
const MEAN_PIXEL: readonly [number, number, number] = [Math.round(CIFAR10_MEAN[0]), Math.round(CIFAR10_MEAN[1]), Math.round(CIFAR10_MEAN[2])];

/** One row of a phase's history (report.json `history`). */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
  workers: number;
  /**
   * Only in a phase that ends with a logit adjustment (the oversampled fine-tune; see
   * PhaseRunnerOptions.evalAdjust): `testLoss`/`testAccuracy` are then taken with the adjustment
   * applied, as the phase's final figures are; these are the same test set with the bias as trained.
   */
  testLossUnadjusted?: number;
  testAccuracyUnadjusted?: number;
}

/** Where a phase stands: enough, with the weights and optimizer state, to resume it. */
export interface PhaseProgress {
  name: PhaseName;
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps applied in this phase. */
  step: number;
  /** Samples whose gradients were applied in this phase. */
  samplesSeen: number;
  history: EpochRecord[];
}

export interface StepInfo {
  phase: PhaseName;
  epoch: number;
  step: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
  samples: number;
  workers: number;
  lr: number;
  timings: StepTimings;
  /** Gradient bytes received from the workers in this step (as encoded on the wire). */
  gradientBytes: number;
}

/** Where one synchronous step's wall time went, ms (performance.now() on the coordinator). */
export interface StepTimings {
  /** Gathering and augmenting the global batch. */
  prepareMs: number;
  /** Worker compute of the slowest worker (the critical path), as the worker measured it. */
  computeMs: number;
  /** That worker's request round trip minus its compute: encode, transfer and decode both ways, plus queueing. */
  wireMs: number;
  /** Weighted average of the gradients. */
  averageMs: number;
  /** Optimizer update plus the weights checksum. */
  optimizerMs: number;
  /** The whole step. */
  stepMs: number;
}

export interface PhaseHooks {
  log?: (msg: string) => void;
  onStep?: (info: StepInfo) => void;
  onEpochStart?: (phase: PhaseName, epoch: number, stepsPerEpoch: number) => void;
  /** Called when a phase starts (or resumes) training. */
  onPhaseStart?: (info: { phase: PhaseName; epochs: number; stepsPerEpoch: number; numClasses: number }) => void;
  /** Called after each epoch's evaluation; the run saves its checkpoint here. */
  onEpochEnd?: (runner: PhaseRunner, record: EpochRecord) => Promise<void>;
}

export interface PhaseRunnerOptions {
  name: PhaseName;
  /** The coordinator's copy of the network (trainable flags already set); it receives the weights. */
  model: tf.LayersModel;
  modelId: number;
  numClasses: number;
  classNames: string[];
  frozenLayers: number;
  train: ImageSet;
  test: ImageSet;
  epochs: number;
  schedule: ScheduleConfig;
  config: TrainConfig;
  pool: WorkerPool;
  hooks?: PhaseHooks;
  /**
   * Times each class's training images appear per epoch (index = class; missing = 1). The
   * fine-tune oversamples its few-hundred-image new classes this way.
   */
  classRepeats?: number[];
  /**
   * The logit adjustment (see adjustOutputBias) the phase's final figures will be taken with: each
   * epoch's test figures are then taken with it applied too (for that evaluation only), and also
   * without it (EpochRecord testLossUnadjusted/testAccuracyUnadjusted).
   */
  evalAdjust?: readonly number[];
  /** Continue from a checkpoint: progress, plus the optimizer state (weights are already in `model`). */
  resume?: { progress: PhaseProgress; optimizer: OptimizerState };
}

/** A global batch, gathered and augmented, ready to shard. */
interface PreparedBatch {
  indices: Uint32Array;
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** Time the gathering and augmenting took, ms. */
  prepareMs: number;
}

/** Per-sample outputs of an evaluation pass, in data order. */
export interface Predictions {
  predictions: Uint8Array;
  losses: Float32Array;
}

const PHASE_INDEX: Record<PhaseName, number> = { cifar10: 1, finetune: 2 };

/**
 * Global-norm clipping in place (torch.nn.utils.clip_grad_norm_ with one group): g *= maxNorm /
 * ||g||_2 when ||g||_2 > maxNorm (norm summed in double).
 * @returns true when g was scaled
 */
export function clipToNorm(g: Float32Array, maxNorm: number): boolean {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (!(norm > maxNorm)) return false;
  const scale = maxNorm / norm;
  for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  return true;
}

/**
 * Synchronous data-parallel SGD for one phase. Each step: take the next global batch of the
 * epoch's seeded permutation, augment it (on the coordinator, keyed by seed/phase/epoch/step, so
 * the draws do not depend on how many workers there are), split it into one shard per live worker
 * (sized by each worker's measured speed, so that a slower core or machine does not hold the step),
 * gather every worker's gradient, average them weighted by shard size, apply the optimizer once,
 * and piggyback the new trainable weights on each worker's next request. A worker that fails
 * mid-step is dropped and the same global batch is re-sharded over the rest: a step is applied
 * exactly once.
 */
export class PhaseRunner implements ModelSource {
  readonly opts: PhaseRunnerOptions;
  /** Trainable weights, flat (the optimizer updates them in place). */
  readonly weights: Float32Array;
  /** The step's all-reduce, accumulated as replies arrive (its mean array is reused every step). */
  private readonly reduction: StreamingAverage;
  readonly optimizer: FlatOptimizer;
  readonly progress: PhaseProgress;
  /** Incremented on every change of `weights`; workers hold some version. */
  private weightsVersion = 0;
  /** Shards each step and evaluation over the pool's workers. */
  private readonly sharded: ShardedCompute;
  /** Steps of the current epoch whose gradient --clip-norm scaled down. */
  private clippedSteps = 0;
  private readonly log: (msg: string) => void;
  /** Training-set indices of one epoch before shuffling (every image once, oversampled classes more). */
  private readonly epochPool: Uint32Array;

  constructor(opts: PhaseRunnerOptions) {
    this.opts = opts;
    this.epochPool = oversampledIndices(opts.train.labels, opts.classRepeats ?? []);
    this.log = opts.hooks?.log ?? (() => undefined);
    // Weights, momentum and the averaged gradient in WebAssembly memory: averaging and the SGD
    // step run as SIMD kernels there (JS loops where there is no WebAssembly SIMD).
    const initial = getWeightsFlat(opts.model, 'trainable');
    const kernels = FlatKernels.create(initial.length);
    kernels?.weights.set(initial);
    this.weights = kernels?.weights ?? initial;
    this.reduction = new StreamingAverage(this.weights.length, undefined, kernels);
    this.optimizer = new FlatOptimizer(opts.config.optimizer, this.weights.length, kernels);
    if (opts.resume) {
      this.optimizer.setState(opts.resume.optimizer);
      this.progress = structuredClone(opts.resume.progress);
    } else {
      this.progress = { name: opts.name, epoch: 0, step: 0, samplesSeen: 0, history: [] };
    }
    opts.pool.resetVersions();
    this.sharded = new ShardedCompute({
      pool: opts.pool,
      source: this,
      balance: opts.config.balanceShards !== false,
      minWorkers: opts.config.minWorkers,
      waitTimeoutMs: opts.config.workerWaitMs ?? 30 * 60_000,
      log: this.log,
      everyOutlier: opts.config.clipNorm === undefined ? 'diverged' : 'accept',
    });
  }

  /** The version of `weights` (raised by every optimizer step and logit adjustment). */
  get version(): number {
    return this.weightsVersion;
  }

  get modelId(): number {
    return this.opts.modelId;
  }

  get numClasses(): number {
    return this.opts.numClasses;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.epochPool.length / this.opts.config.batchSize);
  }

  /** Runs the remaining epochs of the phase. */
  async run(): Promise<PhaseProgress> {
    this.opts.hooks?.onPhaseStart?.({ phase: this.opts.name, epochs: this.opts.epochs, stepsPerEpoch: this.stepsPerEpoch, numClasses: this.opts.numClasses });
    while (this.progress.epoch < this.opts.epochs) {
      await this.runEpoch(this.progress.epoch);
    }
    this.syncModel();
    return this.progress;
  }

  /**
   * Post-hoc logit adjustment (Menon et al. 2021, "Long-tail learning via logit adjustment"):
   * subtracts `adjust[c]` from the output layer's bias of class c (see logitAdjustment: with tau 0
   * a model trained with some classes oversampled k-fold predicts under the natural class prior
   * again, adjust = ln k for them and 0 for the others). Workers get the new weights with their
   * next request.
   * @throws TrainingError E_TRAIN_CONFIG unless the last trainable weight is a bias of numClasses values
   */
  adjustOutputBias(adjust: readonly number[]): void {
    const n = this.opts.numClasses;
    const last = weightSpecs(this.opts.model, 'trainable').at(-1);
    if (last === undefined || last.shape.length !== 1 || last.size !== n || adjust.length !== n) {
      throw new TrainingError('E_TRAIN_CONFIG', `cannot adjust the logits: the last trainable weight is not a bias of ${n} classes`);
    }
    const base = this.weights.length - n;
    for (let c = 0; c < n; c++) this.weights[base + c] = (this.weights[base + c] as number) - (adjust[c] as number);
    this.weightsVersion += 1;
    this.syncModel();
  }

  /** Writes the current weights into the coordinator's model (before saving it). */
  syncModel(): void {
    setWeightsFlat(this.opts.model, this.weights, 'trainable');
  }

  private async runEpoch(epoch: number): Promise<void> {
    const { config } = this.opts;
    const pool = this.epochPool;
    const perm = epochPermutation(pool.length, mixSeed(config.seed, PHASE_INDEX[this.opts.name]), epoch);
    for (let i = 0; i < perm.length; i++) perm[i] = pool[perm[i]];
    const steps = this.stepsPerEpoch;
    this.opts.hooks?.onEpochStart?.(this.opts.name, epoch, steps);
    const started = performance.now();
    let lossSum = 0;
    let correct = 0;
    let samples = 0;
    let lr = 0;
    const batchOf = (s: number, step: number): PreparedBatch =>
      this.prepare(epoch, perm.subarray(s * config.batchSize, Math.min(perm.length, (s + 1) * config.batchSize)), step);
    let next: Promise<PreparedBatch> = Promise.resolve(batchOf(0, this.progress.step));
    for (let s = 0; s < steps; s++) {
      const batch = await next;
      const indices = batch.indices;
      lr = learningRateAt(this.opts.schedule, this.progress.step, steps * this.opts.epochs, steps);
      // The next global batch is gathered and augmented while the workers compute this one.
      const ahead = s + 1 < steps ? { s: s + 1, step: this.progress.step + 1 } : null;
      const result = await this.step(epoch, batch, lr, s * config.batchSize, () => {
        if (!ahead) return;
        next = new Promise((resolve, reject) =>
          setImmediate(() => {
            try {
              resolve(batchOf(ahead.s, ahead.step));
            } catch (err) {
              reject(err);
            }
          }),
        );
        // Awaited by the next step; should this step throw first, the rejection is not unhandled.
        next.catch(() => undefined);
      });
      const { timings } = result;
      lossSum += result.loss * indices.length;
      correct += result.correct;
      samples += indices.length;
      this.opts.hooks?.onStep?.({
        phase: this.opts.name,
        epoch,
        step: this.progress.step,
        stepInEpoch: s + 1,
        stepsPerEpoch: steps,
        loss: lossSum / samples,
        accuracy: correct / samples,
        samples,
        workers: result.workers,
        lr,
        timings,
        gradientBytes: result.gradientBytes,
      });
    }
    const trainSeconds = (performance.now() - started) / 1000;
    const { test, unadjusted } = await this.evaluateEpoch();
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: lossSum / samples,
      accuracy: correct / samples,
      testLoss: test.loss ?? Number.NaN,
      testAccuracy: test.accuracy,
      lr,
      seconds: (performance.now() - started) / 1000,
      imagesPerSecond: samples / trainSeconds,
      workers: this.opts.pool.size,
      ...(unadjusted ? { testLossUnadjusted: unadjusted.loss ?? Number.NaN, testAccuracyUnadjusted: unadjusted.accuracy } : {}),
    };
    this.progress.history.push(record);
    this.progress.epoch = epoch + 1;
    this.log(
      `${this.opts.name} epoch ${record.epoch}/${this.opts.epochs}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)} ` +
        `test loss ${record.testLoss.toFixed(4)} test acc ${record.testAccuracy.toFixed(4)} ` +
        (unadjusted ? `after the logit adjustment (before: test loss ${record.testLossUnadjusted?.toFixed(4)} test acc ${record.testAccuracyUnadjusted?.toFixed(4)}) ` : '') +
        `(${record.seconds.toFixed(1)} s, ${record.imagesPerSecond.toFixed(1)} img/s, ${record.workers} workers)` +
        (this.clippedSteps > 0 ? `; --clip-norm ${this.opts.config.clipNorm} scaled the gradient of ${this.clippedSteps} of ${steps} steps` : ''),
    );
    this.clippedSteps = 0;
    await this.opts.hooks?.onEpochEnd?.(this, record);
  }

  /**
   * The epoch's test figures. With `evalAdjust`: taken with the adjustment applied, as the phase's
   * final figures are, and also with the bias as trained (`unadjusted`); the trained bias is then
   * put back bit for bit (copied back, not re-added) before training goes on.
   */
  private async evaluateEpoch(): Promise<{ test: ClassificationReport; unadjusted?: ClassificationReport }> {
    const adjust = this.opts.evalAdjust;
    if (adjust === undefined) return { test: await this.evaluateReport(this.opts.test) };
    const unadjusted = await this.evaluateReport(this.opts.test);
    const bias = this.weights.length - this.opts.numClasses;
    const trained = this.weights.slice(bias);
    this.adjustOutputBias(adjust);
    try {
      return { test: await this.evaluateReport(this.opts.test), unadjusted };
    } finally {
      this.weights.set(trained, bias);
      this.weightsVersion += 1;
      this.syncModel();
    }
  }

  /** This phase's label smoothing of the training loss (TrainConfig.labelSmoothing / finetuneLabelSmoothing). */
  private get labelSmoothing(): number {
    const { config, name } = this.opts;
    return (name === 'cifar10' ? config.labelSmoothing : config.finetuneLabelSmoothing) ?? 0;
  }

  /** The set-model request for a worker that holds nothing yet: every weight, at the current version. */
  setModelMessage(): SetModelMessage {
    this.syncModel();
    return {
      type: 'set-model',
      modelId: this.opts.modelId,
      numClasses: this.opts.numClasses,
      frozenLayers: this.opts.frozenLayers,
      dropout: this.opts.config.dropout,
      ...(this.labelSmoothing > 0 ? { labelSmoothing: this.labelSmoothing } : {}),
      weights: getWeightsFlat(this.opts.model, 'all'),
      weightsVersion: this.weightsVersion,
    };
  }

  /** The global batch at `indices` of the epoch's permutation, augmented for optimizer step `step`. */
  private prepare(epoch: number, indices: Uint32Array, step: number): PreparedBatch {
    const { train, config } = this.opts;
    const t0 = performance.now();
    const batch = gatherBatch(train, indices);
    const images = config.augment
      ? augmentBatch(batch.images, batch.count, createRng(mixSeed(config.seed, PHASE_INDEX[this.opts.name], epoch, step)))
      : batch.images;
    // Cutout (the fine-tune's --finetune-cutout) goes with the other augmentation.
    const cutout = config.augment && this.opts.name === 'finetune' ? (config.finetuneCutout ?? 0) : 0;
    if (cutout > 0) {
      // Stronger augmentation for the oversampled (rare) classes only: a Cutout square filled
      // with the mean colour, from its own random stream.
      const repeats = this.opts.classRepeats ?? [];
      const rare = (n: number): boolean => (repeats[batch.labels[n] as number] ?? 1) > 1;
      // gatherBatch copied the images: changing them in place touches no training image.
      cutoutBatch(images, batch.count, createRng(mixSeed(config.seed, PHASE_INDEX[this.opts.name], epoch, step, CUTOUT_STREAM)), cutout, MEAN_PIXEL, rare);
    }
    return { indices, images, labels: batch.labels, count: batch.count, prepareMs: performance.now() - t0 };
  }

  /**
   * One synchronous step on a prepared global batch. Replies are averaged as they arrive, in rank
   * order (StreamingAverage); `dispatched` runs once the first attempt's requests are out.
   * @returns the batch's mean loss, correct predictions and the number of workers that served it
   */
  private async step(
    epoch: number,
    batch: PreparedBatch,
    lr: number,
    position: number,
    dispatched: () => void,
  ): Promise<{ loss: number; correct: number; workers: number; timings: StepTimings; gradientBytes: number }> {
    const { config } = this.opts;
    const t0 = performance.now();
    const step = this.progress.step;
    const result = await this.sharded.step(
      {
        step,
        images: batch.images,
        labels: batch.labels,
        count: batch.count,
        ...(config.deterministic
          ? { micro: { size: config.microBatch, dropoutSeed: mixSeed(config.seed, PHASE_INDEX[this.opts.name], epoch, 0xd209), sampleOffset: position } }
          : {}),
        ...(config.gradDtype === 'float32' ? {} : { gradDtype: config.gradDtype }),
      },
      this.reduction,
      (why) =>
        new TrainingError(
          'E_TRAIN_NONFINITE',
          `${why} at ${this.opts.name} step ${step} (epoch ${epoch + 1}, lr ${lr}) on every worker: ` +
            'stopping; the newest checkpoint is the last good state (resume with a lower --lr)',
        ),
      dispatched,
    );
    const t2 = performance.now();
    if (config.clipNorm !== undefined && clipToNorm(this.reduction.mean, config.clipNorm)) this.clippedSteps += 1;
    if (!this.optimizer.step(this.weights, this.reduction.mean, lr)) {
      throw new TrainingError('E_TRAIN_NONFINITE', `weights became non-finite at step ${step} (lr ${lr}); stopping, the last checkpoint is kept`);
    }
    this.weightsVersion += 1;
    const t3 = performance.now();
    this.progress.step += 1;
    this.progress.samplesSeen += batch.count;
    const timings: StepTimings = {
      prepareMs: batch.prepareMs,
      computeMs: result.critical.computeMs,
      wireMs: Math.max(0, result.critical.roundTripMs - result.critical.computeMs),
      averageMs: this.reduction.busyMs,
      optimizerMs: t3 - t2,
      stepMs: t3 - t0,
    };
    return { loss: result.loss, correct: result.correct, workers: result.workers, timings, gradientBytes: result.gradientBytes };
  }

  /**
   * Forward pass over `set`, sharded across the live workers in chunks of `evalChunk` samples
   * (each worker pulls the next chunk when it is done; a failed chunk goes back in the queue).
   * Every sample is counted exactly once.
   */
  predict(set: ImageSet): Promise<Predictions> {
    return this.sharded.predict(set, this.opts.config.evalChunk);
  }

  /** Metrics of the current weights on `set`. */
  async evaluateReport(set: ImageSet): Promise<ClassificationReport> {
    const { predictions, losses } = await this.predict(set);
    const acc = new MetricsAccumulator(this.opts.numClasses, this.opts.classNames);
    acc.add(set.labels, predictions, losses);
    return acc.report();
  }
}
