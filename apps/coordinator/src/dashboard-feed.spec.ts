import type { Dashboard, DashboardEvent, StepEvent } from '@cifar-dist/dashboard';
import { defaultConfig, WorkerPool, type StepInfo } from '@cifar-dist/training';
import { describe, expect, it } from 'vitest';
import { feedDashboard } from './dashboard-feed.js';

/** What the trainer reports for each step of one epoch: the running means of the epoch so far; `step` counts the phase's steps done (1-based). */
function epochSteps(phase: StepInfo['phase'], epoch: number, firstStep: number, batchLosses: number[], n: number): StepInfo[] {
  let lossSum = 0;
  let correct = 0;
  const timings = { prepareMs: 0, computeMs: 0, wireMs: 0, averageMs: 0, optimizerMs: 0, stepMs: 0 };
  return batchLosses.map((loss, i) => {
    lossSum += loss * n;
    correct += n / 2;
    const samples = n * (i + 1);
    return {
      phase, epoch, step: firstStep + i, stepInEpoch: i + 1, stepsPerEpoch: batchLosses.length,
      loss: lossSum / samples, accuracy: correct / samples, samples, workers: 2, lr: 0.05, timings, gradientBytes: 0,
    };
  });
}

describe('feedDashboard', () => {
  it('publishes each step\'s batch loss and a moving average that runs across epochs and restarts with a phase', () => {
    const events: DashboardEvent[] = [];
    const dash: Dashboard = { url: 'http://127.0.0.1:0/', publish: (e) => events.push(e), close: async () => undefined };
    const feed = feedDashboard(dash, new WorkerPool(), { runId: 'r', config: defaultConfig({ dataDir: '/d' }) });
    feed.onPhaseStart({ phase: 'cifar10', epochs: 2, stepsPerEpoch: 3, numClasses: 10 });
    for (const s of epochSteps('cifar10', 0, 1, [3, 2, 1], 32)) feed.onStep(s);
    feed.onEpoch('cifar10', { epoch: 1, loss: 2, accuracy: 0.5, testLoss: 2, testAccuracy: 0.5, lr: 0.05, seconds: 1, imagesPerSecond: 96, workers: 2 });
    for (const s of epochSteps('cifar10', 1, 4, [0.5, 0.5, 0.5], 32)) feed.onStep(s);
    feed.onPhaseStart({ phase: 'finetune', epochs: 1, stepsPerEpoch: 1, numClasses: 14 });
    for (const s of epochSteps('finetune', 0, 1, [4], 32)) feed.onStep(s);

    const steps = events.filter((e): e is StepEvent => e.type === 'step');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(steps.map((s) => s.loss)).toEqual([3, 2, 1, 0.5, 0.5, 0.5, 4]);
    expect(steps.map((s) => s.accuracy)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    // epoch 2 goes on from epoch 1's mean (the running mean of the epoch would restart at 0.5)
    const want = [3, 2.5, 2, 6.5 / 4, 7 / 5, 7.5 / 6, 4];
    steps.forEach((s, i) => expect(s.avgLoss, `step ${i}`).toBeCloseTo(want[i]!, 12));
    expect(steps.map((s) => s.avgSteps)).toEqual([1, 2, 3, 4, 5, 6, 1]);
    expect(steps.map((s) => s.avgAccuracy)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });
});
