import type { TrainConfig } from './config.js';

/**
 * Post-hoc logit adjustment (Menon et al. 2021, "Long-tail learning via logit adjustment", eq. 5
 * with a target prior): a model trained on a set where class c has n_c images, each seen
 * repeats_c times per epoch, learned the prior n_c * repeats_c. To predict under the target prior
 * n_c^(1 - tau) instead, class c's logit (output bias) is lowered by
 *
 *   ln(repeats_c) + tau * ln(n_c / n_max)
 *
 * (the shared constant is chosen so that the largest classes, never oversampled, keep their
 * bias). tau = 0 restores the natural prior, which maximises accuracy; tau = 1 gives a uniform
 * prior, which maximises balanced (macro) recall.
 *
 * @param labels the phase's training labels (natural counts, before oversampling)
 * @param repeats times each class's images are seen per epoch (one entry per class; missing = 1)
 * @param tau in [0, 1]
 * @returns the amount to subtract from each class's output bias (nats), length repeats.length
 * @throws RangeError when tau is outside [0, 1] or a class has no training image
 */
export function logitAdjustment(labels: Uint8Array, repeats: readonly number[], tau: number): number[] {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`the logit adjustment's tau must be in [0, 1], got ${tau}`);
  const counts = new Array<number>(repeats.length).fill(0);
  for (const l of labels) if (l < counts.length) counts[l] += 1;
  const max = Math.max(...counts);
  return counts.map((n, c) => {
    if (n === 0) throw new RangeError(`class ${c} has no training image: its prior is undefined`);
    return Math.log(repeats[c] ?? 1) + tau * Math.log(n / max);
  });
}

/**
 * The fine-tune's class repeats (the added classes, past CIFAR-10's ten, `finetuneOversample`
 * times; the others once) and the logit adjustment its run applies at the end, or null when it
 * applies none (adjustment off, or nothing to shift: no oversampling and tau 0).
 * @param trainLabels the fine-tune's training labels, classes 0..numClasses-1
 */
export function finetunePrior(
  config: Pick<TrainConfig, 'finetuneOversample' | 'finetuneLogitAdjust' | 'finetuneLogitTau'>,
  trainLabels: Uint8Array,
  numClasses: number,
): { repeats: number[]; adjust: number[] | null } {
  const repeats = Array.from({ length: numClasses }, (_, c) => (c >= 10 ? config.finetuneOversample : 1));
  const shift = config.finetuneLogitAdjust ? logitAdjustment(trainLabels, repeats, config.finetuneLogitTau ?? 0) : [];
  return { repeats, adjust: shift.some((a) => a !== 0) ? shift : null };
}
