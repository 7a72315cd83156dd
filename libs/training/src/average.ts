import { TrainingError } from './errors.js';
import { StreamingAverage } from './streaming-average.js';

/** One worker's contribution to a synchronous step. */
export interface ShardGradient {
  /** Gradient of the mean loss over the shard, flat, trainable-weights order. */
  gradients: Float32Array;
  /** Samples in the shard (the weight of this contribution). */
  count: number;
}

/**
 * All-reduce arithmetic: the sample-weighted mean of shard gradients, sum_i(n_i * g_i) / sum_i(n_i),
 * which equals the gradient of the mean loss over the whole global batch. Shards of size 0 are
 * skipped. Accumulates in float32 in the given (rank) order, never in arrival order, so the result
 * is reproducible bit for bit; each term is pre-scaled by n_i / sum(n) so no large sums form.
 * @param parts contributions in rank order; every non-empty gradient of length `length`
 * @param out where to write the mean (overwritten; a new array when omitted). Reusing one saves a
 *   5 MB allocation per step, and the garbage collections such allocations trigger.
 * @returns `out`, or a new Float32Array of `length`
 * @throws TrainingError E_TRAIN_GRADIENT on a length mismatch or when no samples were seen
 */
export function averageGradients(parts: readonly ShardGradient[], length: number, out?: Float32Array): Float32Array {
  if (out !== undefined && out.length !== length) {
    throw new TrainingError('E_TRAIN_GRADIENT', `output buffer has ${out.length} values, expected ${length}`);
  }
  parts.forEach((part, rank) => {
    if (part.count > 0 && part.gradients.length !== length) {
      throw new TrainingError('E_TRAIN_GRADIENT', `gradient from shard ${rank} has ${part.gradients.length} values, expected ${length}`);
    }
  });
  // (begin throws when no shard has samples)
  const reduction = new StreamingAverage(length, out);
  reduction.begin(parts.map((p) => p.count));
  parts.forEach((part, rank) => reduction.add(rank, part));
  return reduction.mean;
}
