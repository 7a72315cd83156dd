import { HALF_BLOCK, halfToFloatTable } from '@cifar-dist/protocol';
import { TrainingError } from './errors.js';
import type { FlatKernels } from './simd/flat-kernels.js';

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
 * 16-bit parts are decoded inside the same pass, and each decoded value is checked for being
 * finite there too (no separate pass): a part with NaN or ±Infinity is named in `nonFinite`.
 */
export class StreamingAverage {
  /** The mean, once `complete`. */
  readonly mean: Float32Array;
  private scales: number[] = [];
  private arrived: Array<ArrivedGradient | undefined> = [];
  private next = 0;
  private started = false;
  /** Time spent accumulating since `begin`, ms. */
  busyMs = 0;
  /** Parts whose values are not all finite, by index. */
  readonly nonFinite = new Set<number>();
  /**
   * The L2 norm of each part's gradient as added (NaN for a non-finite part or one not added yet,
   * +Infinity when its sum of squares overflows float32; 0 for a part of no samples), by index.
   */
  norms: number[] = [];

  /**
   * @param out where the mean goes (a new array when omitted)
   * @param kernels float32 parts are added by these SIMD kernels, into their `mean` (then the
   *   mean is `kernels.mean`); 16-bit parts by JS loops into the same array
   */
  constructor(
    readonly length: number,
    out?: Float32Array,
    private readonly kernels: FlatKernels | null = null,
  ) {
    this.mean = kernels?.mean ?? out ?? new Float32Array(length);
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
    this.next = 0;
    this.started = false;
    this.busyMs = 0;
    this.nonFinite.clear();
    this.norms = counts.map((n) => (n > 0 ? Number.NaN : 0));
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
    const t0 = performance.now();
    for (let p = this.arrived[this.next]; this.next < this.scales.length && p !== undefined; p = this.arrived[this.next]) {
      const scale = this.scales[this.next] as number;
      if (p.count > 0 && scale > 0) {
        const first = !this.started;
        const f32 = p.gradDtype === undefined || p.gradDtype === null;
        const sumSq = this.kernels !== null && f32 ? this.kernels.addToMean(p.gradients as Float32Array, scale, first) : accumulate(this.mean, p, scale, first);
        if (Number.isNaN(sumSq)) this.nonFinite.add(this.next);
        this.norms[this.next] = Math.sqrt(sumSq);
        this.started = true;
      }
      this.arrived[this.next] = undefined;
      this.next += 1;
    }
    this.busyMs += performance.now() - t0;
  }
}

/** float16 scale blocks of a gradient of `length` values. */
export function halfBlocks(length: number): number {
  return Math.ceil(length / HALF_BLOCK);
}

/**
 * out = g * scale (first) or out += g * scale, g decoded from its dtype; one monomorphic loop per
 * representation. Returns the sum of squares of g's values (+Infinity past float32's range, as
 * the kernels), NaN when a decoded value is NaN or ±Infinity (v - v is NaN for those, 0
 * otherwise: the check costs no branch).
 */
function accumulate(out: Float32Array, part: ArrivedGradient, scale: number, first: boolean): number {
  if (part.gradDtype === undefined || part.gradDtype === null) return accumulateF32(out, part.gradients as Float32Array, scale, first);
  const table = part.gradDtype === 'float16' ? halfToFloatTable() : bfloat16Table();
  return accumulate16(out, part.gradients as Uint16Array, table, part.gradDtype === 'float16' ? (part.gradScales as Float32Array) : null, scale, first);
}

function accumulateF32(out: Float32Array, g: Float32Array, scale: number, first: boolean): number {
  const n = out.length;
  let bad = 0;
  let sq = 0;
  if (first) {
    for (let i = 0; i < n; i++) {
      const v = g[i]!;
      bad += v - v;
      sq += v * v;
      out[i] = v * scale;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = g[i]!;
      bad += v - v;
      sq += v * v;
      out[i] = out[i]! + v * scale;
    }
  }
  return sumOrNaN(sq, bad);
}

/**
 * Sum of squares of `g` as the kernels report it: NaN when a value is not finite, +Infinity past
 * float32's range (one pass).
 */
export function sumOfSquares(g: Float32Array): number {
  let bad = 0;
  let sq = 0;
  for (let i = 0; i < g.length; i++) {
    const v = g[i]!;
    bad += v - v;
    sq += v * v;
  }
  return sumOrNaN(sq, bad);
}

/** The sum of squares as the kernels report it: NaN when a value was not finite, +Infinity past float32. */
function sumOrNaN(sq: number, bad: number): number {
  return bad === 0 ? Math.fround(sq) : Number.NaN;
}

/** 16-bit values through their 65536-entry float32 table; float16 times its block scale. */
function accumulate16(out: Float32Array, h: Uint16Array, table: Float32Array, blockScales: Float32Array | null, scale: number, first: boolean): number {
  const n = out.length;
  let bad = 0;
  let sq = 0;
  for (let start = 0, block = 0; start < n; start += HALF_BLOCK, block++) {
    const end = Math.min(n, start + HALF_BLOCK);
    const bs = blockScales === null ? 1 : blockScales[block]!;
    // The value the worker meant is table[h] * bs as a float32: that is what must be finite (a
    // scale can carry a finite 16-bit value past float32's range).
    if (first) {
      for (let i = start; i < end; i++) {
        const v = Math.fround(table[h[i]!]! * bs);
        bad += v - v;
        sq += v * v;
        out[i] = v * scale;
      }
    } else {
      for (let i = start; i < end; i++) {
        const v = Math.fround(table[h[i]!]! * bs);
        bad += v - v;
        sq += v * v;
        out[i] = out[i]! + v * scale;
      }
    }
  }
  return sumOrNaN(sq, bad);
}

/** Every bfloat16 bit pattern's float32 value (the pattern shifted into a float32's top half). */
let bf16Table: Float32Array | null = null;
function bfloat16Table(): Float32Array {
  if (bf16Table === null) {
    const bits = Uint32Array.from({ length: 65536 }, (_, h) => h << 16);
    bf16Table = new Float32Array(bits.buffer);
  }
  return bf16Table;
}
