/**
 * The dashboard's memory of the run: folds published events into a bounded snapshot.
 */
import { StepHistory } from './step-history.js';
import type { DashboardEvent, DashboardSnapshot, StepEvent } from './types.js';

/** Epoch events kept (newest). */
export const MAX_EPOCHS = 10_000;
/** Characters of a status message kept. */
export const MAX_MESSAGE_CHARS = 1000;

/** Folds events into the current state; a `run` event starts over from empty. */
export class DashboardState {
  private snapshotBase: Omit<DashboardSnapshot, 'steps' | 'stepsSeen' | 'stepStride' | 'maxSteps'>;
  private steps: StepHistory<StepEvent>;

  /** @throws RangeError unless `maxSteps` is an integer ≥ 2 */
  constructor(private readonly maxSteps: number) {
    this.steps = new StepHistory<StepEvent>(maxSteps);
    this.snapshotBase = DashboardState.empty();
  }

  private static empty(): DashboardState['snapshotBase'] {
    return { run: null, workers: [], phase: null, status: null, lastStep: null, epochs: [] };
  }

  /** Records one event; returns it as stored (a status message cut to MAX_MESSAGE_CHARS). */
  apply(event: DashboardEvent): DashboardEvent {
    const s = this.snapshotBase;
    switch (event.type) {
      case 'run':
        this.snapshotBase = { ...DashboardState.empty(), run: event };
        this.steps = new StepHistory<StepEvent>(this.maxSteps);
        return event;
      case 'workers':
        s.workers = event.workers.slice();
        return event;
      case 'phase':
        s.phase = event;
        return event;
      case 'status':
        s.status = event.message === undefined ? event : { ...event, message: event.message.slice(0, MAX_MESSAGE_CHARS) };
        return s.status;
      case 'step':
        s.lastStep = event;
        this.steps.push(event);
        return event;
      case 'epoch':
        s.epochs.push(event);
        if (s.epochs.length > MAX_EPOCHS) s.epochs.splice(0, s.epochs.length - MAX_EPOCHS);
        return event;
    }
  }

  /** A copy of everything kept so far (see DashboardSnapshot for the bounds). */
  snapshot(): DashboardSnapshot {
    const s = this.snapshotBase;
    return {
      ...s,
      workers: s.workers.slice(),
      epochs: s.epochs.slice(),
      steps: this.steps.points(),
      stepsSeen: this.steps.seen,
      stepStride: this.steps.stride,
      maxSteps: this.maxSteps,
    };
  }
}
