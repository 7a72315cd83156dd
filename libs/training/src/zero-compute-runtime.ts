import { createModel, flatLength, freezeLayers } from '@cifar-dist/model';
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
import { createRng } from '@cifar-dist/data';
import { gradientReply } from './gradient-reply.js';

/** Values of noise beyond the gradient's length: each step's gradient is a window at another offset. */
const NOISE_SLACK = 65_536;

/**
 * A measuring tool, never a training path: a worker that skips the compute, so that a benchmark
 * times the coordinator alone (`npm run bench -- --coordinator-only`). It holds no model, only
 * the trainable weights' length and identity, and answers every compute at once with a valid
 * gradient of the right length whose values change every step (a window into seeded noise, at
 * an offset keyed by step and worker, so nothing downstream can cache them). It keeps the
 * worker's side of the protocol as the real runtime does: it takes the weights each request
 * carries and reports their identity.
 */
export class ZeroComputeRuntime {
  private modelId = -1;
  private length = 0;
  private version = -1;
  private readonly halfBuffers: { values?: Uint16Array; scales?: Float32Array } = {};
  private noise: Float32Array = new Float32Array(0);

  /** @param seed distinguishes the workers' noise */
  constructor(private readonly seed: number) {}

  /** Learns the trainable length of the described network (the same layout as the real runtime). */
  async setModel(msg: SetModelMessage): Promise<ReadyMessage> {
    const model = createModel({ numClasses: msg.numClasses, dropout: msg.dropout });
    freezeLayers(model, msg.frozenLayers);
    this.length = flatLength(model, 'trainable');
    model.dispose();
    this.modelId = msg.modelId;
    this.version = msg.weightsVersion;
    const rng = createRng(this.seed);
    this.noise = Float32Array.from({ length: this.length + NOISE_SLACK }, () => (rng.next() - 0.5) * 2e-3);
    return { type: 'ready', modelId: msg.modelId, weightsCrc: weightsCrc(msg.weights.subarray(msg.weights.length - this.length)) };
  }

  /** A gradient of the trainable length at once: `computeMs` is the time this took. */
  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    this.require(msg.modelId);
    if (msg.weights) this.version = msg.weightsVersion;
    const started = performance.now();
    const parts = msg.microBatch ? Math.ceil(msg.count / msg.microBatch) : 1;
    const offset = (msg.step * 7919 + this.seed * 104_729) % NOISE_SLACK;
    const gradients =
      parts === 1 ? this.noise.subarray(offset, offset + this.length) : new Float32Array(this.length * parts).map((_, i) => this.noise[offset + (i % this.length)] as number);
    const computeMs = performance.now() - started;
    return gradientReply(msg, { loss: 2.3, correct: 0, count: msg.count, gradients }, { weightsVersion: this.version, weightsCrc: undefined, computeMs }, this.halfBuffers);
  }

  /** Evaluation answers class 0 with loss ln 10 for every sample (not what this tool measures). */
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    this.require(msg.modelId);
    if (msg.weights) this.version = msg.weightsVersion;
    return { type: 'evaluation', requestId: msg.requestId, predictions: new Uint8Array(msg.count), losses: new Float32Array(msg.count).fill(Math.log(10)) };
  }

  dispose(): void {
    this.noise = new Float32Array(0);
  }

  private require(modelId: number): void {
    if (modelId !== this.modelId) throw new ProtocolError('E_PROTO_STALE', `request for model ${modelId}, but this worker holds model ${this.modelId}`);
  }
}
