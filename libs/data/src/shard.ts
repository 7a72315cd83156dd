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
