import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { STEP_WINDOW, StepAverager, type AveragedStep, type RunningStep } from './step-average.js';

/** The trainer's view of a sequence of batches: per epoch, each step's running means so far. */
function running(epochs: Array<Array<{ n: number; loss: number; correct: number }>>): RunningStep[] {
  return epochs.flatMap((batches) => {
    let samples = 0;
    let lossSum = 0;
    let correct = 0;
    return batches.map((b, i) => {
      samples += b.n;
      lossSum += b.loss * b.n;
      correct += b.correct;
      return { stepInEpoch: i + 1, samples, loss: lossSum / samples, accuracy: correct / samples };
    });
  });
}

const close = (got: AveragedStep[], want: Array<Partial<AveragedStep>>): void => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    for (const [k, v] of Object.entries(want[i]!)) expect(g[k as keyof AveragedStep], `step ${i + 1} ${k}`).toBeCloseTo(v, 12);
  });
};

describe('StepAverager', () => {
  it('recovers each batch from the running means and averages the last `window` steps across the epoch boundary (known answer)', () => {
    // epoch 1: batches of 10, 10 and a short last one of 5; epoch 2: two of 10
    const steps = running([
      [{ n: 10, loss: 2.0, correct: 2 }, { n: 10, loss: 1.0, correct: 5 }, { n: 5, loss: 0.4, correct: 4 }],
      [{ n: 10, loss: 0.9, correct: 6 }, { n: 10, loss: 0.5, correct: 8 }],
    ]);
    const avg = new StepAverager(3);
    close(steps.map((s) => avg.push(s)), [
      { batchLoss: 2.0, batchAccuracy: 0.2, loss: 2.0, accuracy: 0.2, steps: 1 },
      { batchLoss: 1.0, batchAccuracy: 0.5, loss: 30 / 20, accuracy: 7 / 20, steps: 2 },
      { batchLoss: 0.4, batchAccuracy: 0.8, loss: 32 / 25, accuracy: 11 / 25, steps: 3 },
      // epoch 2's first step: the window still holds epoch 1's last two (the running mean restarts at 0.9)
      { batchLoss: 0.9, batchAccuracy: 0.6, loss: (10 + 2 + 9) / 25, accuracy: (5 + 4 + 6) / 25, steps: 3 },
      { batchLoss: 0.5, batchAccuracy: 0.8, loss: (2 + 9 + 5) / 25, accuracy: (4 + 6 + 8) / 25, steps: 3 },
    ]);
  });

  it(`averages ${STEP_WINDOW} steps by default: no jump at an epoch boundary`, () => {
    // 40 steps per epoch, batch loss = the global step number, 64 samples a step
    const batches = Array.from({ length: 60 }, (_, i) => ({ n: 64, loss: i + 1, correct: i % 64 }));
    const avg = new StepAverager();
    const got = running([batches.slice(0, 40), batches.slice(40)]).map((s) => avg.push(s));
    const mean = (a: number, b: number): number => (a + b) / 2; // of the integers a..b
    expect(got[39]!.loss).toBeCloseTo(mean(1, 40), 9);
    expect(got[40]!.loss).toBeCloseTo(mean(1, 41), 9); // the running mean of epoch 2 would say 41
    expect(got[40]!.batchLoss).toBeCloseTo(41, 9);
    expect(got[59]!.loss).toBeCloseTo(mean(11, 60), 9);
    expect(got[59]!.steps).toBe(STEP_WINDOW);
    // each step moves the average by about one, the boundary too
    for (let i = 1; i < 60; i++) expect(got[i]!.loss - got[i - 1]!.loss).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('starts over after reset() (a new phase)', () => {
    const avg = new StepAverager(50);
    for (const s of running([[{ n: 8, loss: 3, correct: 1 }, { n: 8, loss: 2, correct: 2 }]])) avg.push(s);
    avg.reset();
    const [first] = running([[{ n: 8, loss: 0.5, correct: 6 }]]);
    expect(avg.push(first!)).toEqual({ batchLoss: 0.5, batchAccuracy: 0.75, loss: 0.5, accuracy: 0.75, steps: 1 });
  });

  it('rejects a window below 1', () => {
    expect(() => new StepAverager(0)).toThrow(RangeError);
    expect(() => new StepAverager(2.5)).toThrow(RangeError);
  });

  it('is the window the live page names in its axis titles', async () => {
    const page = await readFile(new URL('./page.html', import.meta.url), 'utf8');
    expect(page).toContain(`const STEP_WINDOW = ${STEP_WINDOW};`);
  });
});
