import { argumentError } from './errors';

/**
 * Splits a global batch of `batchSize` samples into `n` contiguous shards whose sizes differ by
 * at most one, larger shards first (100 over 3 -> 34, 33, 33; 1 over 3 -> 1, 0, 0). Shard k is
 * [start, end) of the batch; shards may be empty when batchSize < n.
 *
 * @throws CifarDataError E_DATA_ARGUMENT when n is not an integer >= 1 or batchSize is not an
 *   integer >= 0
 */
export function shardRanges(batchSize: number, n: number): Array<{ start: number; end: number }> {
  if (!Number.isSafeInteger(n) || n < 1) throw argumentError(`shard count must be an integer >= 1, got ${n}`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 0) {
    throw argumentError(`batch size must be an integer >= 0, got ${batchSize}`);
  }
  const base = Math.floor(batchSize / n);
  const larger = batchSize % n;
  const ranges: Array<{ start: number; end: number }> = [];
  let start = 0;
  for (let k = 0; k < n; k++) {
    const end = start + base + (k < larger ? 1 : 0);
    ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

/**
 * Splits a global batch into contiguous shards sized in proportion to `weights` (e.g. each
 * worker's measured samples per second), so that workers of different speed finish together.
 * Sizes are the largest-remainder rounding of batchSize * w_k / sum(w) (ties to the lower index),
 * then every empty shard takes one sample from the largest while batchSize >= n, so that every
 * worker keeps being measured. Equal weights give exactly {@link shardRanges}.
 *
 * @throws CifarDataError E_DATA_ARGUMENT when weights is empty or has a weight that is not a
 *   finite number > 0, or batchSize is not an integer >= 0
 */
export function weightedShardRanges(batchSize: number, weights: readonly number[]): Array<{ start: number; end: number }> {
  const n = weights.length;
  if (n < 1) throw argumentError('shard weights must not be empty');
  if (weights.some((w) => !Number.isFinite(w) || w <= 0)) throw argumentError(`shard weights must be finite and > 0, got [${weights.join(', ')}]`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 0) {
    throw argumentError(`batch size must be an integer >= 0, got ${batchSize}`);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (batchSize * w) / total);
  const sizes = quotas.map((q) => Math.floor(q));
  let left = batchSize - sizes.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, k) => ({ k, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.k - b.k);
  for (const { k } of order) {
    if (left === 0) break;
    sizes[k] = (sizes[k] as number) + 1;
    left -= 1;
  }
  if (batchSize >= n) {
    for (let k = 0; k < n; k++) {
      if (sizes[k] !== 0) continue;
      const largest = sizes.indexOf(Math.max(...sizes));
      sizes[largest] = (sizes[largest] as number) - 1;
      sizes[k] = 1;
    }
  }
  let start = 0;
  return sizes.map((size) => {
    const range = { start, end: start + size };
    start += size;
    return range;
  });
}
