import { normalizeImages } from '@cifar-dist/data';
import {
  computeGradients,
  createModel,
  evaluateBatch,
  flatLength,
  freezeLayers,
  readWeightsFlat,
  setWeightsFlat,
  type GradientResult,
  type tf,
} from '@cifar-dist/model';
import { keyedDropoutMasks } from './keyed-dropout.js';
import { gradientReply } from './gradient-reply.js';
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

/**
 * The worker's whole job, free of any transport: hold one model, load the weights it is sent,
 * and answer compute / evaluate requests. The socket client and the in-process link both drive it.
 */
export class WorkerRuntime {
  private model: tf.LayersModel | null = null;
  private modelId = -1;
  /** The coordinator's version of the trainable weights this model holds. */
  private version = -1;
  /** CRC of the weights verified at the last load, when that load was verified. */
  private verifiedCrc: number | undefined;
  private loads = 0;
  /** 16-bit output of the last encoded gradient, reused (see `reuseBuffers`). */
  private halfBuffers: { values?: Uint16Array; scales?: Float32Array } = {};
  /** Every this many weight loads the model's weights are read back and checked. */
  static readonly VERIFY_EVERY = 50;
  /** The gradient array handed out by the last compute, reused by the next (see `reuseBuffers`). */
  private gradientBuffer: Float32Array | null = null;
  /** Normalised pixels of the last request, reused by the next (see `reuseBuffers`). */
  private pixelBuffer: Float32Array | null = null;
  /** The loaded model's label smoothing (SetModelMessage.labelSmoothing). */
  private labelSmoothing = 0;

  /**
   * @param opts.reuseBuffers every compute writes its gradient into the same array (and the
   *   normalised pixels into one scratch array): for a transport that sends a reply before the
   *   next request is handled (the socket worker). A fresh 5 MB array per step costs ~15 ms of
   *   page faults on a VM. Off by default: an in-process caller may hold replies across requests.
   */
  constructor(private readonly opts: { reuseBuffers?: boolean } = {}) {}

  /** Builds the network described by the message and loads every weight. */
  async setModel(msg: SetModelMessage): Promise<ReadyMessage> {
    this.model?.dispose();
    const model = createModel({ numClasses: msg.numClasses, dropout: msg.dropout });
    freezeLayers(model, msg.frozenLayers);
    setWeightsFlat(model, msg.weights, 'all');
    this.model = model;
    this.modelId = msg.modelId;
    this.labelSmoothing = msg.labelSmoothing ?? 0;
    this.version = msg.weightsVersion;
    // A CRC verified for the previous model's weights must not be reported for these.
    this.verifiedCrc = undefined;
    return { type: 'ready', modelId: msg.modelId, weightsCrc: weightsCrc(await readWeightsFlat(model, 'trainable')) };
  }

  private requireModel(modelId: number): tf.LayersModel {
    if (this.model === null || modelId !== this.modelId) {
      throw new ProtocolError(
        'E_PROTO_STALE',
        `request for model ${modelId}, but this worker holds model ${this.model === null ? 'none' : this.modelId}`,
      );
    }
    return this.model;
  }

  private async loadTrainable(model: tf.LayersModel, weights: Float32Array | undefined, version: number): Promise<void> {
    if (weights === undefined || weights === null) return;
    setWeightsFlat(model, weights, 'trainable');
    this.version = version;
    this.verifiedCrc = undefined;
    // Periodically read the weights back from the model and compare with those received: this
    // is what proves the backend holds bit-identical weights (a read-back costs ~40 ms per step on
    // wasm, so not every step); the reply carries the CRC so that the coordinator checks it
    // against its own weights, end to end.
    if (++this.loads % WorkerRuntime.VERIFY_EVERY === 0) {
      const received = weightsCrc(weights);
      const held = weightsCrc(await readWeightsFlat(model, 'trainable'));
      if (held !== received) {
        throw new ProtocolError('E_PROTO_FIELD', `weights read back from the model (CRC ${held.toString(16)}) differ from those received (${received.toString(16)})`);
      }
      this.verifiedCrc = held;
    }
  }

  /** Gradient of the mean loss over the shard at the (possibly updated) weights. */
  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    const model = this.requireModel(msg.modelId);
    await this.loadTrainable(model, msg.weights, msg.weightsVersion);
    const started = performance.now();
    const xs = normalizeImages(msg.images, msg.count, this.pixelsOut(msg.count));
    const result = msg.microBatch ? await this.computeMicroBatches(model, xs, msg, msg.microBatch) : await computeGradients(model, xs, msg.labels, msg.count, { ...this.gradientOut(model), labelSmoothing: this.labelSmoothing });
    const computeMs = performance.now() - started;
    return gradientReply(msg, result, { weightsVersion: this.version, weightsCrc: this.verifiedCrc, computeMs }, this.opts.reuseBuffers === true ? this.halfBuffers : undefined);
  }

  private pixelsOut(count: number): Float32Array | undefined {
    if (this.opts.reuseBuffers !== true) return undefined;
    if (this.pixelBuffer === null || this.pixelBuffer.length < count * 3072) this.pixelBuffer = new Float32Array(count * 3072);
    return this.pixelBuffer;
  }

  private gradientOut(model: tf.LayersModel): { out?: Float32Array } {
    if (this.opts.reuseBuffers !== true) return {};
    const length = flatLength(model, 'trainable');
    if (this.gradientBuffer === null || this.gradientBuffer.length !== length) this.gradientBuffer = new Float32Array(length);
    return { out: this.gradientBuffer };
  }

  /**
   * Deterministic mode: the shard as consecutive micro-batches of `size` samples, each with keyed
   * dropout masks; their gradients concatenated in order (the coordinator reduces them in a fixed
   * order), their losses and correct counts combined for the report.
   */
  private async computeMicroBatches(model: tf.LayersModel, xs: Float32Array, msg: ComputeMessage, size: number): Promise<GradientResult> {
    const parts: Float32Array[] = [];
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < msg.count; start += size) {
      const n = Math.min(size, msg.count - start);
      const r = await computeGradients(model, xs.subarray(start * 3072, (start + n) * 3072), msg.labels.subarray(start, start + n), n, {
        dropoutMasks: keyedDropoutMasks(msg.dropoutSeed ?? 0, (msg.sampleOffset ?? 0) + start),
        labelSmoothing: this.labelSmoothing,
      });
      parts.push(r.gradients);
      lossSum += r.loss * n;
      correct += r.correct;
    }
    const length = parts[0]?.length ?? 0;
    const gradients = new Float32Array(length * parts.length);
    parts.forEach((p, i) => gradients.set(p, i * length));
    return { loss: msg.count > 0 ? lossSum / msg.count : 0, correct, count: msg.count, gradients };
  }

  /** Forward pass only: per-sample predicted class and loss. */
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    const model = this.requireModel(msg.modelId);
    await this.loadTrainable(model, msg.weights, msg.weightsVersion);
    if (msg.count === 0) {
      return { type: 'evaluation', requestId: msg.requestId, predictions: new Uint8Array(0), losses: new Float32Array(0) };
    }
    const xs = normalizeImages(msg.images, msg.count);
    const { predictions, losses } = await evaluateBatch(model, xs, msg.labels, msg.count);
    return { type: 'evaluation', requestId: msg.requestId, predictions, losses };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
