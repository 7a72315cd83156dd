import cliProgress from 'cli-progress';
import type { PhaseName, StepInfo, WorkerPool } from '@cifar-dist/training';

export interface Progress {
  log: (msg: string) => void;
  onStep: (info: StepInfo) => void;
  onEpochStart: (phase: PhaseName, epoch: number, steps: number) => void;
  stop: () => void;
}

/**
 * A cli-progress bar per epoch on a TTY (step/steps, loss, accuracy, img/s, ETA, live workers);
 * on a pipe or log file, plain lines only (the per-epoch summary comes through `log`).
 */
export function createProgress(pool: WorkerPool, log: (msg: string) => void, tty = Boolean(process.stderr.isTTY)): Progress {
  let bar: cliProgress.SingleBar | null = null;
  let started = 0;
  const stopBar = (): void => {
    bar?.stop();
    bar = null;
  };
  return {
    log: (msg) => {
      if (bar) {
        stopBar();
      }
      log(msg);
    },
    onEpochStart: (phase, epoch, steps) => {
      started = performance.now();
      if (!tty) return;
      stopBar();
      bar = new cliProgress.SingleBar(
        {
          format: `${phase} epoch ${epoch + 1} [{bar}] {value}/{total} | loss {loss} acc {acc} | {ips} img/s | ETA {eta_formatted} | {workers} workers`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(steps, 0, { loss: '-', acc: '-', ips: '-', workers: pool.size });
    },
    onStep: (info) => {
      if (!bar) return;
      const seconds = (performance.now() - started) / 1000;
      bar.update(info.stepInEpoch, {
        loss: info.loss.toFixed(4),
        acc: info.accuracy.toFixed(4),
        ips: (info.samples / seconds).toFixed(0),
        workers: info.workers,
      });
    },
    stop: stopBar,
  };
}
