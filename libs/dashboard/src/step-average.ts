/**
 * The live page's per-step curves: a moving average that runs across epochs. The trainer reports,
 * each step, the running mean of its epoch so far (it restarts at every epoch); this turns that
 * back into each step's own batch figures and averages the last STEP_WINDOW of them.
 */

/** Steps the live page's loss and accuracy curves average over (named in their axis titles). */
export const STEP_WINDOW = 50;

/** One step as the trainer reports it: the epoch's running means after `samples` samples. */
export interface RunningStep {
  /** 1-based step within the epoch (1 starts a new epoch's running means). */
  stepInEpoch: number;
  /** Samples of the epoch so far, this step's batch included. */
  samples: number;
  /** Mean loss over the epoch's samples so far. */
  loss: number;
  /** Share of the epoch's samples so far predicted right. */
  accuracy: number;
}

/** This step's own batch, and the moving average over the last `steps` steps. */
export interface AveragedStep {
  batchLoss: number;
  batchAccuracy: number;
  /** Sample-weighted mean loss over the window's steps. */
  loss: number;
  /** Sample-weighted accuracy over the window's steps. */
  accuracy: number;
  /** Steps in the window: STEP_WINDOW, fewer in a phase's first steps. */
  steps: number;
}

interface Batch {
  samples: number;
  lossSum: number;
  correct: number;
}

/**
 * A moving average of per-step training loss and accuracy over the last `window` steps, across
 * epoch boundaries, weighted by each step's batch size (an epoch's short last batch counts less).
 * `reset()` starts over (at a phase's start: a new model, a new head).
 */
export class StepAverager {
  private batches: Batch[] = [];
  /** The epoch's running totals as of the previous step. */
  private epoch = { samples: 0, lossSum: 0, correct: 0 };

  /** @throws RangeError unless `window` is an integer ≥ 1 */
  constructor(readonly window: number = STEP_WINDOW) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be an integer >= 1, got ${window}`);
  }

  reset(): void {
    this.batches = [];
    this.epoch = { samples: 0, lossSum: 0, correct: 0 };
  }

  push(s: RunningStep): AveragedStep {
    if (s.stepInEpoch <= 1 || s.samples <= this.epoch.samples) this.epoch = { samples: 0, lossSum: 0, correct: 0 };
    const lossSum = s.loss * s.samples;
    // The running accuracy is correct/samples: its count is an integer.
    const correct = Math.round(s.accuracy * s.samples);
    const batch: Batch = { samples: s.samples - this.epoch.samples, lossSum: lossSum - this.epoch.lossSum, correct: correct - this.epoch.correct };
    this.epoch = { samples: s.samples, lossSum, correct };
    this.batches.push(batch);
    if (this.batches.length > this.window) this.batches.shift();
    let samples = 0;
    let windowLoss = 0;
    let windowCorrect = 0;
    for (const b of this.batches) {
      samples += b.samples;
      windowLoss += b.lossSum;
      windowCorrect += b.correct;
    }
    return {
      batchLoss: batch.lossSum / batch.samples,
      batchAccuracy: batch.correct / batch.samples,
      loss: windowLoss / samples,
      accuracy: windowCorrect / samples,
      steps: this.batches.length,
    };
  }
}
