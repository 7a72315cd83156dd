import { MetricsError } from './errors.js';
import { ExactSum } from './exact-sum.js';

/**
 * Mean of per-sample losses: (Σ lossᵢ) / samples.
 *
 * The sum is accumulated in float64 — exactly, then rounded once (see `ExactSum`) — so float32
 * losses of a whole test set (10 000 values) lose nothing to accumulation, and the result does
 * not depend on the order of the values. NaN or ±Infinity losses propagate into the mean (a
 * diverged model should show as such, not be hidden).
 *
 * @param losses per-sample losses, shape [samples] (e.g. a Float32Array of cross-entropies, nats)
 * @throws MetricsError E_METRICS_EMPTY when `losses` is empty (a mean of nothing is undefined).
 */
export function meanLoss(losses: ArrayLike<number>): number {
  if (losses.length === 0) {
    throw new MetricsError('E_METRICS_EMPTY', 'meanLoss of zero losses is undefined');
  }
  const sum = new ExactSum();
  sum.addAll(losses);
  return sum.value() / losses.length;
}
