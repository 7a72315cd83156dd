import { createModel, freezeLayers, getWeightsFlat, setWeightsFlat, type tf } from '@cifar-dist/model';
import {
  ProtocolError,
  weightsCrc,
  type ComputeMessage,
  type EvaluateMessage,
  type EvaluationMessage,
  type GradientMessage,
  type ReadyMessage,
  type SetModelMessage,
} from '@cifar-dist/protocol';
import { TrainingError } from './errors.js';
import { gradientReply } from './gradient-reply.js';
import { PartCollector } from './part-collector.js';
import { ShardedCompute, type ModelSource } from './sharded-compute.js';
import { FlatKernels } from './simd/flat-kernels.js';
import { halfBlocks, StreamingAverage } from './streaming-average.js';
import { WorkerRuntime } from './worker-runtime.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * Share of the coordinator's request timeout that a per-node stage gives its own workers: a hung
 * local worker is then dropped, and its part recomputed by the others, before the coordinator's
 * own timeout would drop the whole node.
 */
export const NODE_TIMEOUT_SHARE = 0.4;

/**
 * The request timeout of a per-node stage's own workers, ms: `own` (its --request-timeout) when
 * given, never more than NODE_TIMEOUT_SHARE of the coordinator's (sent in its welcome; 120 s,
 * the coordinator's default, when an older coordinator does not say).
 */
export function nodeRequestTimeout(coordinatorMs: number | undefined, own: number | undefined): number {
  const bound = Math.floor(NODE_TIMEOUT_SHARE * (coordinatorMs ?? 120_000));
  return Math.max(1, Math.min(own ?? bound, bound));
}

export interface NodeRuntimeOptions {
  /** The workers of this host (joined through the node's own loopback server). */
  pool: WorkerPool;
  /** Shards sized by each local worker's measured speed (default true), or equal. */
  balance?: boolean;
  log?: (msg: string) => void;
}

/**
 * The per-node stage of a hierarchical all-reduce (Horovod's hierarchical all-reduce, torchrun's
 * per-node agent): to the coordinator it is one worker; to the workers of its host it is their
 * coordinator. Each compute request's shard is split over the local workers by their measured
 * speed; their float32 gradients are averaged here, weighted by shard size (shared memory, no
 * network), and one gradient goes back: the coordinator receives one gradient, and sends one
 * weights copy, per node and step instead of per worker. In deterministic mode the micro-batch
 * gradients are passed through unreduced, in order (see PartCollector), so that the coordinator
 * keeps summing the global batch's micro-batches in its one fixed order. A local worker that fails
 * is dropped and its part of the shard re-sharded over the others, as the coordinator does.
 *
 * Serves the same requests as WorkerRuntime, so runSocketWorker carries it to the coordinator.
 */
export class NodeRuntime implements ModelSource {
  private model: tf.LayersModel | null = null;
  private message: SetModelMessage | null = null;
  /**
   * The node's own version of the weights it holds, raised by every set-model and every weights
   * load and never reset: what its workers and its caches (the shared weights file, the CRC
   * check) see. The coordinator's versions restart with each model, and with a coordinator
   * restarted by --resume, so the same number can name other weights.
   */
  private local = -1;
  /** The coordinator's version of the weights held (reported back in every reply). */
  private upstream = -1;
  private trainable: Float32Array = new Float32Array(0);
  /** Every weight at `allVersion` (built for a worker that joins mid-phase). */
  private all: { version: number; weights: Float32Array } | null = null;
  private readonly sharded: ShardedCompute;
  private average: StreamingAverage | null = null;
  private collector: PartCollector | null = null;
  private loads = 0;
  private verifiedCrc: number | undefined;
  private readonly halfBuffers: { values?: Uint16Array; scales?: Float32Array } = {};
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: NodeRuntimeOptions) {
    this.log = opts.log ?? (() => undefined);
    // A node with no live worker answers at once (the coordinator re-shards over other nodes)
    // instead of holding the step until the coordinator's request timeout.
    this.sharded = new ShardedCompute({ pool: opts.pool, source: this, balance: opts.balance !== false, minWorkers: 1, log: this.log, waitTimeoutMs: 0, everyOutlier: 'accept' });
  }

  get modelId(): number {
    return this.message?.modelId ?? -1;
  }

  get numClasses(): number {
    return this.message?.numClasses ?? 0;
  }

  get weights(): Float32Array {
    return this.trainable;
  }

  get version(): number {
    return this.local;
  }

  /**
   * Builds the described network (to know which weights are trainable), keeps every weight, and
   * loads the model on every live local worker.
   * @throws TrainingError E_TRAIN_NO_WORKERS when no local worker is live
   */
  async setModel(msg: SetModelMessage): Promise<ReadyMessage> {
    this.model?.dispose();
    const model = createModel({ numClasses: msg.numClasses, dropout: msg.dropout });
    freezeLayers(model, msg.frozenLayers);
    setWeightsFlat(model, msg.weights, 'all');
    this.model = model;
    this.message = { ...msg, weights: new Float32Array(0) };
    this.trainable = getWeightsFlat(model, 'trainable');
    this.local += 1;
    this.upstream = msg.weightsVersion;
    this.all = { version: this.local, weights: Float32Array.from(msg.weights) };
    this.verifiedCrc = undefined;
    const length = this.trainable.length;
    if (this.average?.length !== length) {
      const kernels = FlatKernels.create(length);
      this.average = new StreamingAverage(length, undefined, kernels);
      this.collector = new PartCollector(length);
    }
    const { pool } = this.opts;
    pool.resetVersions();
    await Promise.all(
      pool.live().map((link) =>
        this.sharded.ensureModel(link).catch((err: unknown) => pool.drop(link, `set-model failed: ${(err as Error).message}`)),
      ),
    );
    if (pool.size === 0) throw new TrainingError('E_TRAIN_NO_WORKERS', 'this node has no live local worker to load the model on');
    return { type: 'ready', modelId: msg.modelId, weightsCrc: weightsCrc(this.trainable) };
  }

  /** Every weight at the current version, for a local worker that holds nothing yet. */
  setModelMessage(): SetModelMessage {
    const { model, message, all } = this;
    if (model === null || message === null || all === null) throw new ProtocolError('E_PROTO_STALE', 'this node holds no model');
    if (all.version !== this.local) {
      setWeightsFlat(model, this.trainable, 'trainable');
      this.all = { version: this.local, weights: getWeightsFlat(model, 'all') };
    }
    return { ...message, weights: (this.all as { weights: Float32Array }).weights, weightsVersion: this.local };
  }

  /**
   * The gradient of the shard's mean loss, computed by the local workers and averaged here (or, in
   * deterministic mode, their micro-batch gradients end to end), encoded as the request asks.
   * When every local worker finds the loss non-finite, the reply says so (a NaN loss) and the
   * coordinator decides whether the model diverged.
   */
  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    this.load(msg.modelId, msg.weights, msg.weightsVersion);
    const started = performance.now();
    const parts = msg.microBatch ? Math.ceil(msg.count / msg.microBatch) : 1;
    const reduction = msg.microBatch ? (this.collector as PartCollector) : (this.average as StreamingAverage);
    let result;
    try {
      result = await this.sharded.step(
        {
          step: msg.step,
          images: msg.images,
          labels: msg.labels,
          count: msg.count,
          ...(msg.microBatch ? { micro: { size: msg.microBatch, dropoutSeed: msg.dropoutSeed ?? 0, sampleOffset: msg.sampleOffset ?? 0 } } : {}),
        },
        reduction,
        (why) => new TrainingError('E_TRAIN_NONFINITE', `${why} at step ${msg.step} on every local worker`),
      );
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_TRAIN_NONFINITE') throw err;
      this.log((err as Error).message);
      return this.nonFiniteReply(msg, parts);
    }
    const gradients = msg.microBatch ? (this.collector as PartCollector).out : (this.average as StreamingAverage).mean;
    const identity = { weightsVersion: this.upstream, weightsCrc: this.verifiedCrc, computeMs: performance.now() - started };
    return gradientReply(msg, { loss: result.loss, correct: result.correct, count: msg.count, gradients }, identity, this.halfBuffers);
  }

  /**
   * Forward pass of the request's samples, split evenly over the local workers. When every local
   * worker finds the loss non-finite, the reply's losses are NaN (the coordinator decides).
   */
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    this.load(msg.modelId, msg.weights, msg.weightsVersion);
    const chunk = Math.max(1, Math.ceil(msg.count / Math.max(1, this.opts.pool.size)));
    try {
      const { predictions, losses } = await this.sharded.predict(msg, chunk);
      return { type: 'evaluation', requestId: msg.requestId, predictions, losses };
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_TRAIN_NONFINITE') throw err;
      // Every local worker agrees: say so as they would (non-finite losses); the coordinator
      // weighs this node's answer against the other nodes'.
      this.log((err as Error).message);
      return { type: 'evaluation', requestId: msg.requestId, predictions: new Uint8Array(msg.count), losses: new Float32Array(msg.count).fill(Number.NaN) };
    }
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }

  /** Takes the request's weights, when it carries some; every VERIFY_EVERY loads their CRC goes back to the coordinator. */
  private load(modelId: number, weights: Float32Array | undefined, version: number): void {
    if (this.message === null || modelId !== this.message.modelId) {
      throw new ProtocolError('E_PROTO_STALE', `request for model ${modelId}, but this node holds model ${this.message === null ? 'none' : this.message.modelId}`);
    }
    if (weights === undefined || weights === null) return;
    if (weights.length !== this.trainable.length) {
      throw new ProtocolError('E_PROTO_FIELD', `sent ${weights.length} trainable weights, the model has ${this.trainable.length}`);
    }
    this.trainable.set(weights);
    this.local += 1;
    this.upstream = version;
    this.verifiedCrc = ++this.loads % WorkerRuntime.VERIFY_EVERY === 0 ? weightsCrc(this.trainable) : undefined;
  }

  /** A well-formed reply whose loss is NaN (its gradient all zeros): the coordinator's check names it. */
  private nonFiniteReply(msg: ComputeMessage, parts: number): GradientMessage {
    const length = this.trainable.length * parts;
    const base = { type: 'gradient' as const, step: msg.step, loss: Number.NaN, correct: 0, count: msg.count, weightsVersion: this.upstream, computeMs: 0 };
    if (msg.gradDtype === 'float16') return { ...base, gradients: new Uint16Array(length), gradDtype: 'float16', gradScales: new Float32Array(halfBlocks(this.trainable.length) * parts).fill(1) };
    if (msg.gradDtype === 'bfloat16') return { ...base, gradients: new Uint16Array(length), gradDtype: 'bfloat16' };
    return { ...base, gradients: new Float32Array(length) };
  }
}
