import { StepAverager, type Dashboard } from '@cifar-dist/dashboard';
import type { EpochRecord, PhaseHooks, PhaseName, StepInfo, TrainConfig, WorkerPool } from '@cifar-dist/training';

/**
 * Feeds the live run page: the worker list on every join/leave, and phase, step and epoch events
 * from the trainer's hooks. The step axis counts across both phases so their curves follow on.
 * Each step carries its own batch's loss and accuracy (recovered from the trainer's running means
 * of the epoch) and their moving average over the phase's last STEP_WINDOW steps, which the page
 * plots: it runs on across epochs and starts over with each phase.
 */
export function feedDashboard(
  dash: Dashboard,
  pool: WorkerPool,
  run: { runId: string; config: TrainConfig },
): Required<Pick<PhaseHooks, 'onPhaseStart' | 'onStep'>> & { onEpoch: (phase: PhaseName, r: EpochRecord) => void; finished: (err?: unknown) => void } {
  dash.publish({ type: 'run', runId: run.runId, startedAt: new Date().toISOString(), config: { ...run.config } });
  dash.publish({ type: 'status', state: 'waiting', message: 'waiting for workers' });
  const publishWorkers = (): void =>
    dash.publish({ type: 'workers', workers: pool.live().map((l, rank) => ({ ...l.info, rank })) });
  pool.on('join', publishWorkers);
  pool.on('leave', publishWorkers);
  let offset = 0;
  let phaseStart = 0;
  // Images/s of the epoch so far: samples this epoch over the time since it started.
  let epochStart = performance.now();
  const average = new StepAverager();
  return {
    onPhaseStart: (info) => {
      average.reset();
      offset += phaseStart;
      phaseStart = 0;
      epochStart = performance.now();
      dash.publish({ type: 'phase', ...info });
      dash.publish({ type: 'status', state: 'training' });
    },
    onStep: (s: StepInfo) => {
      phaseStart = Math.max(phaseStart, s.step);
      const now = performance.now();
      const seconds = (now - epochStart) / 1000;
      const a = average.push(s);
      dash.publish({
        type: 'step',
        phase: s.phase,
        epoch: s.epoch + 1,
        step: offset + s.step,
        stepInEpoch: s.stepInEpoch,
        stepsPerEpoch: s.stepsPerEpoch,
        loss: a.batchLoss,
        accuracy: a.batchAccuracy,
        avgLoss: a.loss,
        avgAccuracy: a.accuracy,
        avgSteps: a.steps,
        imagesPerSecond: seconds > 0 ? s.samples / seconds : 0,
        workers: s.workers,
        lr: s.lr,
      });
      if (s.stepInEpoch === s.stepsPerEpoch) {
        dash.publish({ type: 'status', state: 'evaluating', message: `epoch ${s.epoch + 1}` });
      }
    },
    onEpoch: (phase, r) => {
      epochStart = performance.now();
      dash.publish({ type: 'epoch', phase, epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, testLoss: r.testLoss, testAccuracy: r.testAccuracy, seconds: r.seconds, imagesPerSecond: r.imagesPerSecond });
      dash.publish({ type: 'status', state: 'training' });
    },
    finished: (err) => {
      pool.off('join', publishWorkers);
      pool.off('leave', publishWorkers);
      dash.publish(err === undefined ? { type: 'status', state: 'finished' } : { type: 'status', state: 'failed', message: err instanceof Error ? err.message : String(err) });
    },
  };
}
