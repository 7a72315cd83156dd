import { describe, expect, it } from 'vitest';
import { DashboardState, MAX_EPOCHS, MAX_MESSAGE_CHARS } from './state.js';
import { START, WORKERS, step } from './test-support.js';
import type { EpochEvent } from './types.js';

const epoch = (e: number): EpochEvent => ({
  type: 'epoch', phase: 'cifar10', epoch: e, loss: 1, accuracy: 0.5, testLoss: 1.1, testAccuracy: 0.45, seconds: 60, imagesPerSecond: 800,
});

describe('DashboardState', () => {
  it('starts empty', () => {
    expect(new DashboardState(10).snapshot()).toEqual({
      run: null, workers: [], phase: null, status: null, steps: [], lastStep: null,
      stepsSeen: 0, stepStride: 1, maxSteps: 10, epochs: [],
    });
  });

  it('folds events and thins steps', () => {
    const state = new DashboardState(4);
    for (const e of START) state.apply(e);
    for (let i = 1; i <= 6; i++) state.apply(step(i));
    state.apply(epoch(1));
    const snap = state.snapshot();
    expect(snap.run).toEqual(START[0]);
    expect(snap.workers).toEqual(WORKERS);
    expect(snap.phase).toEqual(START[2]);
    expect(snap.status).toEqual({ type: 'status', state: 'training' });
    expect(snap.steps.map((s) => s.step)).toEqual([1, 3, 5]);
    expect(snap.lastStep).toEqual(step(6));
    expect([snap.stepsSeen, snap.stepStride]).toEqual([6, 2]);
    expect(snap.epochs).toEqual([epoch(1)]);
  });

  it('starts over on a new run event', () => {
    const state = new DashboardState(4);
    for (const e of START) state.apply(e);
    state.apply(step(1));
    const run2 = { ...START[0]!, runId: 'run-2' } as const;
    state.apply(run2);
    expect(state.snapshot()).toEqual({
      run: run2, workers: [], phase: null, status: null, steps: [], lastStep: null,
      stepsSeen: 0, stepStride: 1, maxSteps: 4, epochs: [],
    });
  });

  it('bounds status messages and epoch history', () => {
    const state = new DashboardState(4);
    const stored = state.apply({ type: 'status', state: 'failed', message: 'x'.repeat(5000) });
    expect(stored).toEqual({ type: 'status', state: 'failed', message: 'x'.repeat(MAX_MESSAGE_CHARS) });
    for (let e = 1; e <= MAX_EPOCHS + 3; e++) state.apply(epoch(e));
    const epochs = state.snapshot().epochs;
    expect(epochs.length).toBe(MAX_EPOCHS);
    expect([epochs[0]!.epoch, epochs.at(-1)!.epoch]).toEqual([4, MAX_EPOCHS + 3]);
  });

  it('snapshots are copies', () => {
    const state = new DashboardState(4);
    state.apply(START[1]!);
    state.snapshot().workers.pop();
    expect(state.snapshot().workers).toEqual(WORKERS);
  });
});
