import { TrainingError } from './errors.js';
import type { FlatKernels } from './simd/flat-kernels.js';

export type OptimizerName = 'sgd' | 'adam';

export interface OptimizerConfig {
  name: OptimizerName;
  /** SGD momentum (0 = plain SGD). */
  momentum: number;
  nesterov: boolean;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`), applied to every trainable weight. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  name: 'sgd',
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
};

/** Optimizer state for checkpoints: iteration first, then the slot vectors (tfjs getWeights order). */
export interface OptimizerState {
  name: OptimizerName;
  iteration: number;
  slots: Float32Array[];
}

/**
 * An optimizer over one flat float32 weight vector, applied once per synchronous step on the
 * coordinator. Formulas follow torch.optim.SGD (momentum buffer b = mu*b + g; nesterov uses
 * g + mu*b) and Adam (Kingma & Ba 2015, Algorithm 1, epsilon added to the bias-corrected sqrt(v) as in
 * tf.train.adam and torch.optim.Adam: w -= lr * m_hat / (sqrt(v_hat) + eps)).
 */
export class FlatOptimizer {
  readonly config: OptimizerConfig;
  readonly length: number;
  private iteration = 0;
  private readonly slots: Float32Array[];

  /**
   * @param kernels SGD with momentum then keeps its momentum in `kernels.momentum` and runs as a
   *   SIMD kernel whenever it is asked to step `kernels.weights` with `kernels.mean`
   */
  constructor(
    config: OptimizerConfig,
    length: number,
    private readonly kernels: FlatKernels | null = null,
  ) {
    this.config = config;
    this.length = length;
    const slotCount = config.name === 'adam' ? 2 : config.momentum > 0 ? 1 : 0;
    this.slots = Array.from({ length: slotCount }, (_, i) => (i === 0 && this.simdSgd() ? (kernels as FlatKernels).momentum : new Float32Array(length)));
  }

  /** True when steps of `kernels.weights` by `kernels.mean` run as the SIMD kernel. */
  private simdSgd(): boolean {
    return this.kernels !== null && this.kernels.length === this.length && this.config.name === 'sgd' && this.config.momentum > 0;
  }

  /**
   * In place: weights <- weights - update(gradients, lr).
   * @returns true when every updated weight is finite (checked in the same pass)
   * @throws TrainingError E_TRAIN_OPTIMIZER on a length mismatch
   */
  step(weights: Float32Array, gradients: Float32Array, lr: number): boolean {
    if (weights.length !== this.length || gradients.length !== this.length) {
      throw new TrainingError(
        'E_TRAIN_OPTIMIZER',
        `optimizer holds ${this.length} weights, got weights ${weights.length} / gradients ${gradients.length}`,
      );
    }
    this.iteration += 1;
    const { weightDecay: wd } = this.config;
    const k = this.kernels;
    if (k !== null && this.simdSgd() && weights === k.weights && gradients === k.mean) {
      return k.sgdMomentum(lr, this.config.momentum, wd, this.config.nesterov);
    }
    // w - w is NaN for NaN and ±Infinity, 0 otherwise: the finiteness check rides along.
    let bad = 0;
    if (this.config.name === 'adam') {
      const { beta1: b1, beta2: b2, epsilon: eps } = this.config;
      const [m, v] = this.slots as [Float32Array, Float32Array];
      const c1 = 1 - b1 ** this.iteration;
      const c2 = 1 - b2 ** this.iteration;
      for (let i = 0; i < this.length; i++) {
        const g = (gradients[i] as number) + wd * (weights[i] as number);
        const mi = b1 * (m[i] as number) + (1 - b1) * g;
        const vi = b2 * (v[i] as number) + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        const w = (weights[i] as number) - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
        weights[i] = w;
        bad += w - w;
      }
      return bad === 0;
    }
    const mu = this.config.momentum;
    if (mu === 0) {
      for (let i = 0; i < this.length; i++) {
        const w = (weights[i] as number) - lr * ((gradients[i] as number) + wd * (weights[i] as number));
        weights[i] = w;
        bad += w - w;
      }
      return bad === 0;
    }
    const b = this.slots[0] as Float32Array;
    // Two loops rather than a branch per value: the optimizer runs over 1.25 M weights per step.
    if (this.config.nesterov) {
      for (let i = 0; i < this.length; i++) {
        const wi = weights[i]!;
        const g = gradients[i]! + wd * wi;
        const bi = mu * b[i]! + g;
        b[i] = bi;
        const w = wi - lr * (g + mu * bi);
        weights[i] = w;
        bad += w - w;
      }
    } else {
      for (let i = 0; i < this.length; i++) {
        const wi = weights[i]!;
        const g = gradients[i]! + wd * wi;
        const bi = mu * b[i]! + g;
        b[i] = bi;
        const w = wi - lr * bi;
        weights[i] = w;
        bad += w - w;
      }
    }
    return bad === 0;
  }

  getState(): OptimizerState {
    return { name: this.config.name, iteration: this.iteration, slots: this.slots.map((s) => new Float32Array(s)) };
  }

  /** @throws TrainingError E_TRAIN_OPTIMIZER when the state belongs to another optimizer or size */
  setState(state: OptimizerState): void {
    if (state.name !== this.config.name || state.slots.length !== this.slots.length) {
      throw new TrainingError('E_TRAIN_OPTIMIZER', `optimizer state is for '${state.name}' with ${state.slots.length} slots, this optimizer is '${this.config.name}' with ${this.slots.length}`);
    }
    state.slots.forEach((slot, i) => {
      if (slot.length !== this.length) {
        throw new TrainingError('E_TRAIN_OPTIMIZER', `optimizer slot ${i} has ${slot.length} values, expected ${this.length}`);
      }
      (this.slots[i] as Float32Array).set(slot);
    });
    this.iteration = state.iteration;
  }
}
