import { argumentError } from './errors';
import { createStreamRng } from './rng';

/**
 * Fisher–Yates (Durstenfeld) shuffle of 0..count-1 for one epoch: deterministic for
 * (seed, epoch), a fresh order each epoch. Every rank/worker that calls it with the same
 * arguments gets the same order, so a global batch can be split without communication.
 *
 * The epoch's generator is sfc32 seeded from `seed` with stream word
 * a = (epoch + 1) * 0x9E3779B9 mod 2^32 (an odd multiplier, so distinct for every epoch and never
 * 0, which keeps it apart from createRng(seed)).
 *
 * @param count number of samples (non-negative integer, < 2^32)
 * @param epoch non-negative integer < 2^32 - 1
 * @returns Uint32Array [count] holding each of 0..count-1 once
 * @throws CifarDataError E_DATA_ARGUMENT on a bad count / seed / epoch
 */
export function epochPermutation(count: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count >= 4294967296) {
    throw argumentError(`count must be an integer in 0..2^32-1, got ${count}`);
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= 4294967295) {
    throw argumentError(`epoch must be an integer in 0..2^32-2, got ${epoch}`);
  }
  const rng = createStreamRng(seed, Math.imul(epoch + 1, 0x9e3779b9) >>> 0);
  const perm = new Uint32Array(count);
  for (let i = 0; i < count; i++) perm[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/**
 * The sample pool of one epoch with some classes oversampled: every index 0..labels.length-1
 * once, in order, followed by the indices of each label `c` with `repeats[c] > 1` repeated
 * `repeats[c] - 1` more times. Shuffle the pool with epochPermutation(pool.length, …) and map
 * through it. Used to let the few hundred images of a fine-tune's new classes be seen as often
 * as the CIFAR-10 ones would need (class-balanced resampling, e.g. Buda et al. 2018, "A systematic
 * study of the class imbalance problem in convolutional neural networks").
 *
 * @param labels Uint8Array [N] class index per sample
 * @param repeats positive integer per class index (missing entries count as 1)
 * @returns Uint32Array [N + Σ_c (repeats[c]-1)·count(c)]
 * @throws CifarDataError E_DATA_ARGUMENT on a non-integer or non-positive repeat
 */
export function oversampledIndices(labels: Uint8Array, repeats: readonly number[]): Uint32Array {
  for (const [c, r] of repeats.entries()) {
    if (!Number.isSafeInteger(r) || r < 1) throw argumentError(`repeats[${c}] must be a positive integer, got ${r}`);
  }
  let extra = 0;
  for (let i = 0; i < labels.length; i++) extra += (repeats[labels[i]] ?? 1) - 1;
  const pool = new Uint32Array(labels.length + extra);
  for (let i = 0; i < labels.length; i++) pool[i] = i;
  let at = labels.length;
  for (let i = 0; i < labels.length; i++) {
    for (let k = (repeats[labels[i]] ?? 1) - 1; k > 0; k--) pool[at++] = i;
  }
  return pool;
}
