import { MetricsAccumulator, type ClassificationReport } from '@cifar-dist/metrics';
import { logitAdjustment } from './logit-adjust.js';

/** What {@link sweepLogitTau} needs to know about the model and the phase that trained it. */
export interface PriorSweepInput {
  /** Inference logits of the saved model on the held-out set, float32 [count, numClasses]. */
  logits: Float32Array;
  /** Held-out labels, `count` of them. */
  labels: Uint8Array;
  classNames: string[];
  /** Labels of the phase's training part (natural counts): the prior the adjustment refers to. */
  trainLabels: Uint8Array;
  /** Times each class was seen per epoch (the phase's classRepeats). */
  repeats: readonly number[];
  /** The adjustment already applied to the saved model's output bias (nats per class), or null. */
  applied: readonly number[] | null;
  /** The taus to evaluate, each in [0, 1]. */
  taus: readonly number[];
}

/** One tau's held-out figures. */
export interface PriorSweepRow {
  tau: number;
  report: ClassificationReport;
}

/**
 * The held-out classification report of a fine-tuned model under each logit-adjustment tau
 * (logitAdjustment): the saved model's logits z with its applied adjustment undone, then lowered
 * by logitAdjustment(trainLabels, repeats, tau). Loss is the mean softmax cross-entropy (nats) of
 * the adjusted logits, accumulated exactly (MetricsAccumulator).
 *
 * @throws RangeError when logits and labels disagree in length, or from logitAdjustment
 */
export function sweepLogitTau(input: PriorSweepInput): PriorSweepRow[] {
  const n = input.classNames.length;
  const count = input.labels.length;
  if (input.logits.length !== count * n) {
    throw new RangeError(`logits hold ${input.logits.length} values, ${count} samples x ${n} classes need ${count * n}`);
  }
  return input.taus.map((tau) => {
    const target = logitAdjustment(input.trainLabels, input.repeats, tau);
    const shift = target.map((t, c) => (input.applied?.[c] ?? 0) - t);
    const acc = new MetricsAccumulator(n, input.classNames);
    const predictions = new Uint8Array(count);
    const losses = new Float64Array(count);
    const row = new Float64Array(n);
    for (let i = 0; i < count; i++) {
      let best = 0;
      let max = -Infinity;
      for (let c = 0; c < n; c++) {
        const z = (input.logits[i * n + c] as number) + (shift[c] as number);
        row[c] = z;
        if (z > max) {
          max = z;
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < n; c++) sum += Math.exp((row[c] as number) - max);
      predictions[i] = best;
      losses[i] = Math.log(sum) + max - (row[input.labels[i] as number] as number);
    }
    acc.add(input.labels, predictions, losses);
    return { tau, report: acc.report() };
  });
}

/**
 * The tau with the highest held-out macro F1 (every class counts alike, precision and recall
 * both: the figure that the small added classes move most); the smallest such tau on a tie.
 * @throws RangeError on an empty sweep
 */
export function chooseLogitTau(rows: readonly PriorSweepRow[]): PriorSweepRow {
  const first = rows[0];
  if (first === undefined) throw new RangeError('no tau was evaluated');
  return rows.reduce((best, r) => (r.report.f1Macro > best.report.f1Macro || (r.report.f1Macro === best.report.f1Macro && r.tau < best.tau) ? r : best), first);
}
