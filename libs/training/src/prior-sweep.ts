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
  checkLogits(input);
  return input.taus.map((tau) => ({ tau, report: heldOutReport(input, tau, null) }));
}

/** @throws RangeError when logits and labels disagree in length */
function checkLogits(input: Pick<PriorSweepInput, 'logits' | 'labels' | 'classNames'>): void {
  const n = input.classNames.length;
  const count = input.labels.length;
  if (input.logits.length !== count * n) {
    throw new RangeError(`logits hold ${input.logits.length} values, ${count} samples x ${n} classes need ${count * n}`);
  }
}

/**
 * The held-out report with the saved model's applied adjustment undone, the adjustment of `tau`
 * applied instead and `bias[c]` nats added to class c's logit (none when bias is null). Loss as
 * sweepLogitTau's.
 * @throws RangeError when logits and labels disagree in length, or from logitAdjustment
 */
export function heldOutReport(input: Omit<PriorSweepInput, 'taus'>, tau: number, bias: readonly number[] | null): ClassificationReport {
  checkLogits(input);
  const n = input.classNames.length;
  const count = input.labels.length;
  const target = logitAdjustment(input.trainLabels, input.repeats, tau);
  const shift = target.map((t, c) => (input.applied?.[c] ?? 0) - t + (bias?.[c] ?? 0));
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
  return acc.report();
}

/**
 * The held-out recall to aim at, rather than `goal` itself, when a class's recall must reach
 * `goal` on another sample: the goal plus one standard error of a recall measured on `count`
 * images, `goal + sqrt(goal * (1 - goal) / count)` (the binomial proportion's standard error at
 * the goal). A bias chosen to reach the goal itself on the held-out images misses it on a test
 * sample about half the time. One standard error does not make a miss unlikely: the gap between a
 * held-out and a test recall on 100 images each has a standard error of sqrt(2) times 0.049, so a
 * class at 0.65 on held-out reaches 0.60 on such a test set with probability about 0.77 (normal
 * approximation). For goal 0.6 and the 100 held-out images of an added class: 0.649, i.e. 65 of
 * 100 images.
 *
 * @param goal recall in [0, 1]
 * @param count images of the class in the held-out split (a positive integer)
 * @throws RangeError on a goal outside [0, 1] or a count that is not a positive integer
 */
export function recallFloorWithMargin(goal: number, count: number): number {
  if (!(goal >= 0 && goal <= 1)) throw new RangeError(`the recall goal must be in [0, 1], got ${goal}`);
  if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`the held-out image count must be a positive integer, got ${count}`);
  return Math.min(1, goal + Math.sqrt((goal * (1 - goal)) / count));
}

/** What {@link chooseClassBias} found: the per-class logit bias and the held-out figures under it. */
export interface ClassBiasChoice {
  tau: number;
  /** Nats added to each class's logit, one entry per class (0 for classes not raised). */
  bias: number[];
  report: ClassificationReport;
  /** Whether every class in `classes` reached the recall floor within `max`. */
  reached: boolean;
}

/**
 * The smallest per-class logit biases, on a grid of `step` nats, that lift the held-out recall of
 * each class in `classes` to at least `floor` under the logit adjustment of `tau`: a per-class
 * decision threshold (the bias is a class-wise shift of the softmax's decision boundary, as the
 * adjustment is a prior-wise one). Every round raises, by one step, each listed class still below
 * the floor (raising one class can take images from another, which the next round sees), until
 * none is below it or each one below has reached `max`.
 *
 * @param classes class indices the floor applies to (the fine-tune's added classes)
 * @param floor recall in [0, 1]
 * @param step grid step in nats (> 0); max the largest bias tried (nats, >= 0)
 * @throws RangeError on bad arguments, from checkLogits or logitAdjustment
 */
export function chooseClassBias(
  input: Omit<PriorSweepInput, 'taus'>,
  tau: number,
  opts: { classes: readonly number[]; floor: number; step: number; max: number },
): ClassBiasChoice {
  const n = input.classNames.length;
  if (!(opts.floor >= 0 && opts.floor <= 1)) throw new RangeError(`the recall floor must be in [0, 1], got ${opts.floor}`);
  if (!(opts.step > 0) || !(opts.max >= 0)) throw new RangeError(`the bias step must be > 0 and its max >= 0, got ${opts.step} and ${opts.max}`);
  for (const c of opts.classes) if (!(Number.isInteger(c) && c >= 0 && c < n)) throw new RangeError(`class index ${c} is not one of 0..${n - 1}`);
  const classes = [...new Set(opts.classes)];
  const steps = new Array<number>(n).fill(0);
  const limit = Math.floor(opts.max / opts.step + 1e-9);
  const biasOf = (): number[] => steps.map((k) => Math.round(k * opts.step * 1e6) / 1e6);
  for (;;) {
    const report = heldOutReport(input, tau, biasOf());
    const below = classes.filter((c) => (report.perClass[c]?.recall ?? 0) < opts.floor);
    const raisable = below.filter((c) => (steps[c] as number) < limit);
    if (raisable.length === 0) return { tau, bias: biasOf(), report, reached: below.length === 0 };
    for (const c of raisable) steps[c] = (steps[c] as number) + 1;
  }
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
