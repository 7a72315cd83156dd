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
 * `goal` on another sample: the goal plus `standardErrors` standard errors of a recall measured
 * on `count` images, `goal + standardErrors * sqrt(goal * (1 - goal) / count)` (the binomial
 * proportion's standard error at the goal), capped at 1. A bias chosen to reach the goal itself on
 * the held-out images misses it on a test sample about half the time. One standard error does not
 * make a miss unlikely: the gap between a held-out and a test recall on 100 images each has a
 * standard error of sqrt(2) times 0.049, so a class at 0.65 on held-out reaches 0.60 on such a
 * test set with probability about 0.77 (normal approximation); two standard errors of that gap
 * (`standardErrors` = 2 sqrt 2) make it about 0.98. For goal 0.6 and the 100 held-out images of an
 * added class: 0.649 with one standard error (65 of 100 images), 0.739 with 2 sqrt 2.
 *
 * @param goal recall in [0, 1]
 * @param count images of the class in the held-out split (a positive integer)
 * @param standardErrors the margin in standard errors (>= 0; default 1)
 * @throws RangeError on a goal outside [0, 1], a count that is not a positive integer or a
 *   negative margin
 */
export function recallFloorWithMargin(goal: number, count: number, standardErrors = 1): number {
  if (!(goal >= 0 && goal <= 1)) throw new RangeError(`the recall goal must be in [0, 1], got ${goal}`);
  if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`the held-out image count must be a positive integer, got ${count}`);
  if (!(standardErrors >= 0)) throw new RangeError(`the margin must be >= 0 standard errors, got ${standardErrors}`);
  return Math.min(1, goal + standardErrors * Math.sqrt((goal * (1 - goal)) / count));
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

/** One floor {@link chooseRecallFloor} tried: the class bias's held-out macro precision there. */
export interface RecallFloorTrial {
  floor: number;
  precisionMacro: number;
  /** Whether every listed class reached the floor within the bias search's max. */
  reached: boolean;
}

/** What {@link chooseRecallFloor} chose: the floor, its class bias and figures, and every floor tried. */
export interface RecallFloorChoice extends ClassBiasChoice {
  floor: number;
  tried: RecallFloorTrial[];
  /**
   * Whether the chosen floor's class bias keeps the held-out macro precision at or above
   * `precisionFloor`: false only when `lowest` is chosen and even it does not.
   */
  precisionKept: boolean;
}

/**
 * The recall floor with the widest margin that precision can pay for: tries `floors` in
 * ascending order, each with the class bias chooseClassBias picks at `tau`, and keeps the last
 * one, going up, whose bias lifts every listed class to it while the held-out macro precision
 * stays at or above `precisionFloor`. The first floor that fails either ends the search: it does
 * not look past a failure (macro precision usually falls as the floor rises, but need not
 * strictly). When the first floor already fails, it is returned all the same: `reached` and
 * precisionKept say how. The recipe's use (choose-prior): the floors are k / n for the image
 * counts k of the smallest added class (n held-out images) from the goal plus one standard error
 * up to plus two standard errors of the held-out/test gap (recallFloorWithMargin), and
 * precisionFloor the reference's test macro precision.
 *
 * @param opts floors non-empty, ascending, each in [0, 1]; precisionFloor in [0, 1]; the rest as
 *   chooseClassBias's
 * @throws RangeError on bad arguments, and as chooseClassBias
 */
export function chooseRecallFloor(
  input: Omit<PriorSweepInput, 'taus'>,
  tau: number,
  opts: { classes: readonly number[]; floors: readonly number[]; precisionFloor: number; step: number; max: number },
): RecallFloorChoice {
  const { floors, precisionFloor } = opts;
  if (floors.length === 0) throw new RangeError('no recall floor to try');
  floors.forEach((f, i) => {
    if (!(f >= 0 && f <= 1) || (i > 0 && !(f > (floors[i - 1] as number)))) throw new RangeError(`the recall floors must rise within [0, 1], got ${floors.join(', ')}`);
  });
  if (!(precisionFloor >= 0 && precisionFloor <= 1)) throw new RangeError(`the precision floor must be in [0, 1], got ${precisionFloor}`);
  const tried: RecallFloorTrial[] = [];
  let kept: (ClassBiasChoice & { floor: number }) | undefined;
  let first: (ClassBiasChoice & { floor: number }) | undefined;
  for (const floor of floors) {
    const choice = { ...chooseClassBias(input, tau, { classes: opts.classes, floor, step: opts.step, max: opts.max }), floor };
    first ??= choice;
    tried.push({ floor, precisionMacro: choice.report.precisionMacro, reached: choice.reached });
    if (!choice.reached || choice.report.precisionMacro < precisionFloor) break;
    kept = choice;
  }
  const chosen = kept ?? (first as ClassBiasChoice & { floor: number });
  return { ...chosen, tried, precisionKept: chosen.report.precisionMacro >= precisionFloor };
}

/**
 * The recall floors a class of `count` held-out images can tell apart between `lowest` and
 * `highest`: k / count for every image count k from the smallest whose recall reaches `lowest`
 * to the smallest whose recall reaches `highest` (so `highest` itself is covered: on 100 images,
 * 0.649 to 0.739 gives 0.65, 0.66, ..., 0.74). A recall tp / count then compares exactly with
 * each floor (the same division), and no floor falls between two recalls.
 *
 * @param lowest recall in [0, 1], at most `highest` (also in [0, 1])
 * @param count a positive integer
 * @throws RangeError on bad arguments
 */
export function recallFloorGrid(lowest: number, highest: number, count: number): number[] {
  if (!(lowest >= 0 && lowest <= highest && highest <= 1)) throw new RangeError(`the floors must satisfy 0 <= lowest <= highest <= 1, got ${lowest} and ${highest}`);
  if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`the held-out image count must be a positive integer, got ${count}`);
  // The tolerance keeps a bound that is k / count up to rounding (0.64 on 150 images) at k.
  const images = (recall: number): number => Math.ceil(recall * count - 1e-9);
  const grid: number[] = [];
  for (let k = images(lowest); k <= images(highest); k++) grid.push(k / count);
  return grid;
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
