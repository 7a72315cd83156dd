import { allFinite, HALF_BLOCK, halfToFloatTable } from '@cifar-dist/protocol';
import { TrainingError } from './errors.js';

/** One shard's gradient as it arrived: float32, or 16-bit with its dtype (half.ts). */
export interface ArrivedGradient {
  gradients: Float32Array | Uint16Array;
  gradDtype?: 'float16' | 'bfloat16';
  /** float16: one power-of-two scale per HALF_BLOCK values. */
  gradScales?: Float32Array;
  /** Samples in the shard: the weight of this part. */
  count: number;
}

/**
 * The all-reduce of a synchronous step as replies arrive: the sample-weighted mean
 * sum_i(n_i * g_i) / sum_i(n_i) (the gradient of the mean loss over the global batch), accumulated
 * in float32 strictly in part order, never in arrival order, so that the result is reproducible
 * bit for bit; each term is pre-scaled by n_i / sum(n). A part is added as soon as it and every
 * part before it have arrived, so the averaging of early parts overlaps the wait for later ones.
 * 16-bit parts are decoded inside the same pass. Finiteness is checked once, on the sum, in the
 * pass that adds the last part: IEEE arithmetic keeps a NaN or ±Infinity term non-finite through
 * every later addition (Infinity + -Infinity is NaN), so a non-finite input always shows there;
 * only then is each part checked on its own to name the culprit (`nonFinite`).
 */
export class StreamingAverage {
  /** The mean, once `complete`. */
  readonly mean: Float32Array;
  private scales: number[] = [];
  private arrived: Array<ArrivedGradient | undefined> = [];
  private next = 0;
  private started = false;
  /** The parts of the current reduction, kept until the next `begin` (to name a non-finite one). */
  private parts: Array<ArrivedGradient | undefined> = [];
  /** Set when the sum is not all finite but no single part is (the average overflowed). */
  overflow = false;
  /** Time spent accumulating since `begin`, ms. */
  busyMs = 0;
  /** Parts whose values are not all finite, by index. */
  readonly nonFinite = new Set<number>();

  /** @param out where the mean goes (a new array when omitted) */
  constructor(readonly length: number, out?: Float32Array) {
    this.mean = out ?? new Float32Array(length);
  }

  /**
   * Starts a reduction over parts of these sample counts (in order; 0 = an empty part, skipped).
   * @throws TrainingError E_TRAIN_GRADIENT when no part has samples
   */
  begin(counts: readonly number[]): void {
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) throw new TrainingError('E_TRAIN_GRADIENT', 'no samples in any shard');
    this.scales = counts.map((n) => n / total);
    this.arrived = counts.map(() => undefined);
    this.parts = counts.map(() => undefined);
    this.overflow = false;
    this.next = 0;
    this.started = false;
    this.busyMs = 0;
    this.nonFinite.clear();
  }

  /** True when every part has been added. */
  get complete(): boolean {
    return this.next === this.scales.length;
  }

  /**
   * Offers part `index` (its gradient must hold `length` values); adds it, and every later part
   * already waiting, when all parts before it are in.
   * @throws TrainingError E_TRAIN_GRADIENT on a length mismatch, a float16 part without scales, or
   *   an index offered before or outside the reduction
   */
  add(index: number, part: ArrivedGradient): void {
    if (!Number.isInteger(index) || index < this.next || index >= this.scales.length || this.arrived[index] !== undefined) {
      throw new TrainingError('E_TRAIN_GRADIENT', `part ${index} of ${this.scales.length} offered twice or out of range`);
    }
    if (part.count > 0 && part.gradients.length !== this.length) {
      throw new TrainingError('E_TRAIN_GRADIENT', `gradient of part ${index} has ${part.gradients.length} values, expected ${this.length}`);
    }
    if (part.gradDtype === 'float16' && (part.gradScales?.length ?? 0) < halfBlocks(this.length)) {
      throw new TrainingError('E_TRAIN_GRADIENT', `float16 gradient of part ${index} lacks its block scales`);
    }
    this.arrived[index] = part;
    this.parts[index] = part;
    const t0 = performance.now();
    for (let p = this.arrived[this.next]; this.next < this.scales.length && p !== undefined; p = this.arrived[this.next]) {
      const scale = this.scales[this.next] as number;
      const last = this.next === this.scales.length - 1;
      if (p.count > 0 && scale > 0) {
        accumulate(this.mean, p, scale, !this.started);
        this.started = true;
      }
      this.arrived[this.next] = undefined;
      this.next += 1;
      if (last && !allFinite(this.mean)) this.nameNonFinite();
    }
    this.busyMs += performance.now() - t0;
  }

  /** The sum is not all finite: finds the parts that are not (decoding each), else marks an overflow. */
  private nameNonFinite(): void {
    const scratch = new Float32Array(this.length);
    this.parts.forEach((p, k) => {
      if (p === undefined || p.count === 0) return;
      accumulate(scratch, p, 1, true);
      if (!allFinite(scratch)) this.nonFinite.add(k);
    });
    if (this.nonFinite.size === 0) this.overflow = true;
  }
}

/** float16 scale blocks of a gradient of `length` values. */
export function halfBlocks(length: number): number {
  return Math.ceil(length / HALF_BLOCK);
}

/** out = g * scale (first) or out += g * scale, g decoded from its dtype; one monomorphic loop per dtype. */
function accumulate(out: Float32Array, part: ArrivedGradient, scale: number, first: boolean): void {
  const n = out.length;
  if (part.gradDtype === 'float16') {
    const h = part.gradients as Uint16Array;
    const table = halfToFloatTable();
    const blockScales = part.gradScales as Float32Array;
    for (let start = 0, b = 0; start < n; start += HALF_BLOCK, b++) {
      const end = Math.min(n, start + HALF_BLOCK);
      const bs = blockScales[b] as number;
      const s = bs * scale;
      if (first) {
        for (let i = start; i < end; i++) {
          const v = table[h[i]!]!;
          out[i] = v * s;
        }
      } else {
        for (let i = start; i < end; i++) {
          const v = table[h[i]!]!;
          out[i] = out[i]! + v * s;
        }
      }
    }
  } else if (part.gradDtype === 'bfloat16') {
    // A bfloat16 is the top half of a float32: widen through a float32 view of one word.
    const h = part.gradients as Uint16Array;
    for (let start = 0; start < n; start += WIDEN_BLOCK) {
      const end = Math.min(n, start + WIDEN_BLOCK);
      for (let i = start; i < end; i++) widenBits[i - start] = h[i]! << 16;
      if (first) {
        for (let i = start; i < end; i++) {
          const v = widened[i - start]!;
          out[i] = v * scale;
        }
      } else {
        for (let i = start; i < end; i++) {
          const v = widened[i - start]!;
          out[i] = out[i]! + v * scale;
        }
      }
    }
  } else {
    const g = part.gradients as Float32Array;
    if (first) {
      for (let i = 0; i < n; i++) {
        const v = g[i]!;
        out[i] = v * scale;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = g[i]!;
        out[i] = out[i]! + v * scale;
      }
    }
  }
}

const WIDEN_BLOCK = 4096;
const widened = new Float32Array(WIDEN_BLOCK);
const widenBits = new Uint32Array(widened.buffer);
