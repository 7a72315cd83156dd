import {
  augmentBatch,
  createRng,
  epochPermutation,
  gatherBatch,
  oversampledIndices,
  shardRanges,
  weightedShardRanges,
  type ImageSet,
} from '@cifar-dist/data';
import { MetricsAccumulator, type ClassificationReport } from '@cifar-dist/metrics';
import { getWeightsFlat, setWeightsFlat, weightSpecs, type tf } from '@cifar-dist/model';
import { allFinite, weightsCrc, type GradDtype, type GradientMessage } from '@cifar-dist/protocol';
import { halfBlocks, StreamingAverage } from './streaming-average.js';
import { FlatKernels } from './simd/flat-kernels.js';
import type { TrainConfig } from './config.js';
import { TrainingError } from './errors.js';
import { FlatOptimizer, type OptimizerState } from './optimizer.js';
import { learningRateAt, type ScheduleConfig } from './schedule.js';
import { mixSeed } from './seed.js';
import type { WorkerLink } from './worker-link.js';
import type { WorkerPool } from './worker-pool.js';

export type PhaseName = 'cifar10' | 'finetune';

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

/** Sample counts of consecutive micro-batches of `size` over `count` samples (the last may be shorter). */
function microBatchCounts(count: number, size: number): number[] {
  const counts: number[] = [];
  for (let left = count; left > 0; left -= size) counts.push(Math.min(size, left));
  return counts;
}

/** Per-sample outputs of an evaluation pass, in data order. */
export interface Predictions {
  predictions: Uint8Array;
  losses: Float32Array;
}

const PHASE_INDEX: Record<PhaseName, number> = { cifar10: 1, finetune: 2 };

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
export class PhaseRunner {
  readonly opts: PhaseRunnerOptions;
  /** Trainable weights, flat (the optimizer updates them in place). */
  readonly weights: Float32Array;
  /** Samples per ms of compute of each worker (moving average): shard sizes follow it. */
  private readonly speed = new WeakMap<WorkerLink, number>();
  /** The step's all-reduce, accumulated as replies arrive (its mean array is reused every step). */
  private readonly reduction: StreamingAverage;
  readonly optimizer: FlatOptimizer;
  readonly progress: PhaseProgress;
  /** Incremented on every change of `weights`; workers hold some version. */
  private version = 0;
  /** CRC of `weights` at `crcVersion`, computed only when a worker reports one to compare. */
  private crc = 0;
  private crcVersion = -1;
  private requestId = 0;
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
   * subtracts `adjust[c]` from the output layer's bias of class c, so a model trained with some
   * classes oversampled k-fold predicts under the natural class prior again (adjust = ln k for
   * them, 0 for the others). Workers get the new weights with their next request.
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
    this.version += 1;
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
    const test = await this.evaluateReport(this.opts.test);
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
    };
    this.progress.history.push(record);
    this.progress.epoch = epoch + 1;
    this.log(
      `${this.opts.name} epoch ${record.epoch}/${this.opts.epochs}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)} ` +
        `test loss ${record.testLoss.toFixed(4)} test acc ${record.testAccuracy.toFixed(4)} ` +
        `(${record.seconds.toFixed(1)} s, ${record.imagesPerSecond.toFixed(1)} img/s, ${record.workers} workers)`,
    );
    await this.opts.hooks?.onEpochEnd?.(this, record);
  }

  /** Makes sure `link` holds the current model; new or restarted workers get every weight. */
  private async ensureModel(link: WorkerLink): Promise<void> {
    if (this.opts.pool.versionOf(link) >= 0) return;
    this.syncModel();
    await link.setModel({
      type: 'set-model',
      modelId: this.opts.modelId,
      numClasses: this.opts.numClasses,
      frozenLayers: this.opts.frozenLayers,
      dropout: this.opts.config.dropout,
      weights: getWeightsFlat(this.opts.model, 'all'),
      weightsVersion: this.version,
    });
    this.opts.pool.setVersion(link, this.version);
  }

  private weightsFor(link: WorkerLink): Float32Array | undefined {
    return this.opts.pool.versionOf(link) === this.version ? undefined : this.weights;
  }

  /**
   * Checks a gradient reply against the request (finiteness is checked while averaging); throws a
   * TrainingError naming what is wrong.
   */
  private validate(reply: GradientMessage, step: number, count: number, link: WorkerLink, parts: number, gradDtype: GradDtype | undefined): void {
    const who = `worker ${link.info.workerId}`;
    const fail = (why: string): never => {
      throw new TrainingError('E_TRAIN_GRADIENT', `${who} ${why}`);
    };
    if (reply.step !== step) fail(`answered for step ${reply.step}, current step is ${step}`);
    if (reply.count !== count) fail(`reports ${reply.count} samples for a shard of ${count}`);
    if (reply.gradients.length !== this.weights.length * parts) {
      fail(`sent a gradient of ${reply.gradients.length} values, expected ${this.weights.length * parts}`);
    }
    if ((reply.gradDtype ?? undefined) !== gradDtype) fail(`sent ${reply.gradDtype ?? 'float32'} gradients, ${gradDtype ?? 'float32'} were asked for`);
    if (gradDtype === 'float16' && reply.gradScales?.length !== halfBlocks(this.weights.length) * parts) {
      fail(`sent ${reply.gradScales?.length ?? 0} float16 block scales, expected ${halfBlocks(this.weights.length) * parts}`);
    }
    if (!Number.isFinite(reply.loss)) {
      throw new TrainingError('E_TRAIN_NONFINITE', `${who} sent a non-finite loss at step ${step}`);
    }
    if (reply.weightsVersion !== this.version) {
      fail(`computed at weights version ${reply.weightsVersion}, coordinator holds version ${this.version}`);
    }
    if (reply.weightsCrc !== undefined && reply.weightsCrc !== null) {
      if (this.crcVersion !== this.version) {
        this.crc = weightsCrc(this.weights);
        this.crcVersion = this.version;
      }
      if (reply.weightsCrc !== this.crc) {
        fail(`holds weights with CRC ${reply.weightsCrc.toString(16)}, coordinator's are ${this.crc.toString(16)}`);
      }
    }
  }

  /** The global batch at `indices` of the epoch's permutation, augmented for optimizer step `step`. */
  private prepare(epoch: number, indices: Uint32Array, step: number): PreparedBatch {
    const { train, config } = this.opts;
    const t0 = performance.now();
    const batch = gatherBatch(train, indices);
    const images = config.augment
      ? augmentBatch(batch.images, batch.count, createRng(mixSeed(config.seed, PHASE_INDEX[this.opts.name], epoch, step)))
      : batch.images;
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
    const { config, pool } = this.opts;
    const t0 = performance.now();
    const { images } = batch;
    const step = this.progress.step;
    let first = true;
    for (;;) {
      await pool.waitFor(Math.max(1, config.minWorkers), Number.POSITIVE_INFINITY, (have) =>
        this.log(`waiting for workers: ${have} live, need ${Math.max(1, config.minWorkers)}`),
      );
      const links = pool.live();
      // Deterministic mode shards whole micro-batches, so each is computed alike on any worker.
      const micro = config.deterministic ? config.microBatch : 0;
      const split = (units: number) => (config.balanceShards === false ? shardRanges(units, links.length) : weightedShardRanges(units, this.speeds(links)));
      const ranges = micro
        ? split(Math.ceil(batch.count / micro)).map((r) => ({ start: Math.min(batch.count, r.start * micro), end: Math.min(batch.count, r.end * micro) }))
        : split(batch.count);
      // Parts of the all-reduce in order: one per rank, or in deterministic mode one per micro-batch.
      const partCounts = ranges.map(({ start, end }) => (micro ? microBatchCounts(end - start, micro) : [end - start]));
      let offset = 0;
      const firstPart = partCounts.map((c) => (offset += c.length) - c.length);
      this.reduction.begin(partCounts.flat());
      const gradDtype = config.gradDtype === 'float32' ? undefined : config.gradDtype;
      const settled = Promise.allSettled(
        links.map(async (link, rank) => {
          const { start, end } = ranges[rank] as { start: number; end: number };
          if (end === start) {
            // An empty shard: in deterministic mode it has no parts at all, else one of 0 samples.
            (partCounts[rank] as number[]).forEach((count, j) => this.reduction.add((firstPart[rank] as number) + j, { gradients: new Float32Array(0), count }));
            return { count: 0, loss: 0, correct: 0, computeMs: 0, roundTripMs: 0, bytes: 0 };
          }
          await this.ensureModel(link);
          const weights = this.weightsFor(link);
          const sent = performance.now();
          const reply = await link.compute({
            type: 'compute',
            modelId: this.opts.modelId,
            step,
            ...(weights ? { weights } : {}),
            weightsVersion: this.version,
            ...(gradDtype ? { gradDtype } : {}),
            images: images.subarray(start * 3072, end * 3072),
            labels: batch.labels.subarray(start, end),
            count: end - start,
            ...(micro
              ? { microBatch: micro, dropoutSeed: mixSeed(config.seed, PHASE_INDEX[this.opts.name], epoch, 0xd209), sampleOffset: position + start }
              : {}),
          });
          if (weights) pool.setVersion(link, this.version);
          const counts = partCounts[rank] as number[];
          this.validate(reply, step, end - start, link, counts.length, gradDtype);
          const length = this.weights.length;
          counts.forEach((count, j) =>
            this.reduction.add((firstPart[rank] as number) + j, {
              gradients: reply.gradients.subarray(j * length, (j + 1) * length),
              ...(reply.gradDtype ? { gradDtype: reply.gradDtype } : {}),
              ...(reply.gradScales ? { gradScales: reply.gradScales.subarray(j * halfBlocks(length), (j + 1) * halfBlocks(length)) } : {}),
              count,
            }),
          );
          return { count: reply.count, loss: reply.loss, correct: reply.correct, computeMs: reply.computeMs, roundTripMs: performance.now() - sent, bytes: reply.gradients.byteLength };
        }),
      );
      if (first) {
        first = false;
        dispatched();
      }
      const results = (await settled).map((r, rank) => {
        // A part found non-finite while averaging fails its worker like any other bad reply.
        const bad = (partCounts[rank] as number[]).some((_, j) => this.reduction.nonFinite.has((firstPart[rank] as number) + j));
        if (r.status === 'fulfilled' && bad) {
          const reason = new TrainingError('E_TRAIN_NONFINITE', `worker ${(links[rank] as WorkerLink).info.workerId} sent a non-finite gradient at step ${step}`);
          return { status: 'rejected', reason } as PromiseRejectedResult;
        }
        return r;
      });
      const failed = results
        .map((r, rank) => ({ r, link: links[rank] as WorkerLink }))
        .filter((x): x is { r: PromiseRejectedResult; link: WorkerLink } => x.r.status === 'rejected');
      if (failed.length > 0) {
        // Every worker's loss or gradient non-finite at the same weights: the model diverged, not a
        // worker. Stop; the last checkpoint stays the newest good one.
        const nonFinite = failed.filter(({ r }) => (r.reason as { code?: string } | undefined)?.code === 'E_TRAIN_NONFINITE');
        const serving = ranges.filter(({ start, end }) => end > start).length;
        if (nonFinite.length === serving) {
          throw new TrainingError(
            'E_TRAIN_NONFINITE',
            `the loss became non-finite at ${this.opts.name} step ${step} (epoch ${epoch + 1}, lr ${lr}) on every worker: ` +
              'stopping; the newest checkpoint is the last good state (resume with a lower --lr)',
          );
        }
        for (const { r, link } of failed) {
          const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
          this.log(`step ${step}: dropping worker ${link.info.workerId}: ${reason}; re-sharding the global batch`);
          pool.drop(link, reason);
        }
        continue;
      }
      type Reply = { count: number; loss: number; correct: number; computeMs: number; roundTripMs: number; bytes: number };
      const replies = results.map((r) => (r as PromiseFulfilledResult<Reply>).value);
      const critical = replies.reduce((a, b) => (b.roundTripMs > a.roundTripMs ? b : a));
      replies.forEach((r, rank) => this.recordSpeed(links[rank] as WorkerLink, r.count, r.computeMs));
      if (!this.reduction.complete) throw new TrainingError('E_TRAIN_GRADIENT', `step ${step}: the all-reduce is missing parts`);
      const t2 = performance.now();
      if (!this.optimizer.step(this.weights, this.reduction.mean, lr)) {
        throw new TrainingError('E_TRAIN_NONFINITE', `weights became non-finite at step ${step} (lr ${lr}); stopping, the last checkpoint is kept`);
      }
      this.version += 1;
      const t3 = performance.now();
      this.progress.step += 1;
      this.progress.samplesSeen += batch.count;
      let lossSum = 0;
      let correct = 0;
      for (const r of replies) {
        lossSum += r.loss * r.count;
        correct += r.correct;
      }
      const timings: StepTimings = {
        prepareMs: batch.prepareMs,
        computeMs: critical.computeMs,
        wireMs: Math.max(0, critical.roundTripMs - critical.computeMs),
        averageMs: this.reduction.busyMs,
        optimizerMs: t3 - t2,
        stepMs: t3 - t0,
      };
      const gradientBytes = replies.reduce((sum, r) => sum + r.bytes, 0);
      return { loss: lossSum / batch.count, correct, workers: links.length, timings, gradientBytes };
    }
  }

  /**
   * Relative speed of each link for sizing its shard: its measured samples per ms of compute
   * (exponential moving average); links not yet measured count as the mean of the measured
   * ones, or 1 when none is.
   */
  private speeds(links: readonly WorkerLink[]): number[] {
    const known = links.map((l) => this.speed.get(l)).filter((v): v is number => v !== undefined);
    const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
    return links.map((l) => this.speed.get(l) ?? fallback);
  }

  private recordSpeed(link: WorkerLink, count: number, computeMs: number): void {
    if (count === 0 || !(computeMs > 0) || !Number.isFinite(computeMs)) return;
    const rate = count / computeMs;
    const old = this.speed.get(link);
    this.speed.set(link, old === undefined ? rate : 0.7 * old + 0.3 * rate);
  }

  /**
   * Forward pass over `set`, sharded across the live workers in chunks of `evalChunk` samples
   * (each worker pulls the next chunk when it is done; a failed chunk goes back in the queue).
   * Every sample is counted exactly once.
   */
  async predict(set: ImageSet): Promise<Predictions> {
    const { pool, config } = this.opts;
    const predictions = new Uint8Array(set.count);
    const losses = new Float32Array(set.count);
    const queue: Array<{ start: number; end: number }> = [];
    for (let start = 0; start < set.count; start += config.evalChunk) {
      queue.push({ start, end: Math.min(set.count, start + config.evalChunk) });
    }
    while (queue.length > 0) {
      await pool.waitFor(1);
      const links = pool.live();
      await Promise.all(
        links.map(async (link) => {
          for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
            try {
              await this.ensureModel(link);
              const weights = this.weightsFor(link);
              const requestId = ++this.requestId;
              const reply = await link.evaluate({
                type: 'evaluate',
                modelId: this.opts.modelId,
                requestId,
                ...(weights ? { weights } : {}),
                weightsVersion: this.version,
                images: set.images.subarray(chunk.start * 3072, chunk.end * 3072),
                labels: set.labels.subarray(chunk.start, chunk.end),
                count: chunk.end - chunk.start,
              });
              if (weights) pool.setVersion(link, this.version);
              const n = chunk.end - chunk.start;
              const who = `worker ${link.info.workerId}`;
              if (reply.requestId !== requestId) {
                throw new TrainingError('E_TRAIN_WORKER', `${who} answered request ${reply.requestId} instead of ${requestId}`);
              }
              if (reply.predictions.length !== n) {
                throw new TrainingError('E_TRAIN_WORKER', `${who} returned ${reply.predictions.length} predictions for ${n} samples`);
              }
              if (reply.predictions.some((c) => c >= this.opts.numClasses)) {
                throw new TrainingError('E_TRAIN_WORKER', `${who} predicted a class outside 0..${this.opts.numClasses - 1}`);
              }
              if (!allFinite(reply.losses)) {
                throw new TrainingError('E_TRAIN_NONFINITE', `${who} returned non-finite losses`);
              }
              predictions.set(reply.predictions, chunk.start);
              losses.set(reply.losses, chunk.start);
            } catch (err) {
              queue.push(chunk);
              const reason = err instanceof Error ? err.message : String(err);
              this.log(`evaluation: dropping worker ${link.info.workerId}: ${reason}`);
              pool.drop(link, reason);
              return;
            }
          }
        }),
      );
    }
    return { predictions, losses };
  }

  /** Metrics of the current weights on `set`. */
  async evaluateReport(set: ImageSet): Promise<ClassificationReport> {
    const { predictions, losses } = await this.predict(set);
    const acc = new MetricsAccumulator(this.opts.numClasses, this.opts.classNames);
    acc.add(set.labels, predictions, losses);
    return acc.report();
  }
}
