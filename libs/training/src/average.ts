import { TrainingError } from './errors.js';

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
 * skipped. Accumulates in float64 in the given (rank) order, so the result does not depend on
 * arrival order.
 * @param parts contributions in rank order; every gradient of length `length`
 * @returns a new Float32Array of `length`
 * @throws TrainingError E_TRAIN_GRADIENT on a length mismatch or when no samples were seen
 */
export function averageGradients(parts: readonly ShardGradient[], length: number): Float32Array {
  const acc = new Float64Array(length);
  let total = 0;
  parts.forEach((part, rank) => {
    if (part.count === 0) return;
    if (part.gradients.length !== length) {
      throw new TrainingError(
        'E_TRAIN_GRADIENT',
        `gradient from shard ${rank} has ${part.gradients.length} values, expected ${length}`,
      );
    }
    const g = part.gradients;
    const w = part.count;
    for (let i = 0; i < length; i++) acc[i] += w * (g[i] as number);
    total += w;
  });
  if (total === 0) throw new TrainingError('E_TRAIN_GRADIENT', 'no samples in any shard');
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (acc[i] as number) / total;
  return out;
}
