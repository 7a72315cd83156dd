import { TrainingError } from './errors.js';
import { sumOfSquares, type ArrivedGradient } from './streaming-average.js';
import type { Reduction } from './sharded-compute.js';

/**
 * A Reduction that does not reduce: it lays the parts' float32 gradients end to end, in part
 * order, into `out` (parts × length values). A per-node stage in deterministic mode passes its
 * micro-batch gradients through this way, so that the coordinator still sums every micro-batch of
 * the global batch in the one fixed order (bit-identical weights whatever the layout of nodes
 * and workers). Each part is checked for being finite as it is copied.
 */
export class PartCollector implements Reduction {
  /** The parts end to end, once `complete` (reused by the next `begin` of the same size). */
  out: Float32Array = new Float32Array(0);
  readonly nonFinite = new Set<number>();
  /** Each part's gradient L2 norm (NaN: not finite or not in yet; +Infinity past float32), by index. */
  norms: number[] = [];
  busyMs = 0;
  private arrived: boolean[] = [];

  /** @param length values per part (the trainable weights' length) */
  constructor(readonly length: number) {}

  /** Starts over parts of these sample counts (a part of 0 samples stays zeros). */
  begin(counts: readonly number[]): void {
    if (this.out.length !== counts.length * this.length) this.out = new Float32Array(counts.length * this.length);
    this.arrived = counts.map(() => false);
    this.nonFinite.clear();
    this.norms = counts.map((n) => (n > 0 ? Number.NaN : 0));
    this.busyMs = 0;
  }

  /**
   * Copies part `index` into its place.
   * @throws TrainingError E_TRAIN_GRADIENT for a part outside the reduction, offered twice, of
   *   the wrong length, or 16-bit (a node asks its workers for float32)
   */
  add(index: number, part: ArrivedGradient): void {
    const t0 = performance.now();
    if (!(index >= 0 && index < this.arrived.length)) throw new TrainingError('E_TRAIN_GRADIENT', `part ${index} is outside the reduction of ${this.arrived.length} parts`);
    if (this.arrived[index] === true) throw new TrainingError('E_TRAIN_GRADIENT', `part ${index} was offered twice`);
    if (part.gradDtype !== undefined && part.gradDtype !== null) throw new TrainingError('E_TRAIN_GRADIENT', `part ${index} is ${part.gradDtype}; parts are collected as float32`);
    const slot = this.out.subarray(index * this.length, (index + 1) * this.length);
    if (part.count === 0) slot.fill(0);
    else {
      if (part.gradients.length !== this.length) throw new TrainingError('E_TRAIN_GRADIENT', `part ${index} has ${part.gradients.length} values, expected ${this.length}`);
      slot.set(part.gradients);
      const sq = sumOfSquares(slot);
      if (Number.isNaN(sq)) this.nonFinite.add(index);
      else this.norms[index] = Math.sqrt(sq);
    }
    this.arrived[index] = true;
    this.busyMs += performance.now() - t0;
  }

  get complete(): boolean {
    return this.arrived.every(Boolean);
  }
}
