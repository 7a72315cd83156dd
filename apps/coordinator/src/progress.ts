import cliProgress from 'cli-progress';
import type { PhaseName, StepInfo, WorkerPool } from '@cifar-dist/training';

export interface Progress {
  /** Logs a line: on a terminal above the bar, which stays where it is with its counts. */
  log: (msg: string) => void;
  onStep: (info: StepInfo) => void;
  onEpochStart: (phase: PhaseName, epoch: number, steps: number) => void;
  stop: () => void;
}

/** Where the bar is drawn (process.stderr; a fake terminal in tests). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  /** Default process.stderr: the terminal the log lines reach too. */
  stream?: ProgressStream;
  /** Draw a bar (default: when `stream` is a TTY); false: plain log lines only. */
  tty?: boolean;
}

/** Carriage return and erase the whole line: the bar's line is blank, the cursor at its start. */
const CLEAR_LINE = '\r\x1b[2K';
/**
 * Start of the line, DEC save cursor: written before every frame, so that the position
 * cli-progress restores when the bar stops (then writing a newline) is the bar's current line.
 */
const SAVE_AT_LINE_START = '\r\x1b7';

/**
 * A cli-progress bar per epoch on a TTY (step/steps, loss, accuracy, img/s, ETA, live workers);
 * on a pipe or log file, plain lines only (the per-epoch summary comes through `log`).
 *
 * On a terminal a log line never lands on the bar nor stops it: the bar's line is cleared, the
 * line is logged (it scrolls up like any other), and the bar is drawn again below it with the
 * counts it had, so it keeps updating for the rest of the epoch. Once an epoch's steps are all
 * done, the next line (the epoch's summary) leaves the full bar in the scrollback above it. The
 * pool's joins and leaves set the worker count at once; whoever logs them (the coordinator) finds
 * the bar's line cleared and the bar comes back under its line. Lines from other processes (a
 * worker's own log on the same terminal) cannot be cleared for: the bar is redrawn below them at
 * the next frame (forceRedraw, 10 per second).
 */
export function createProgress(pool: WorkerPool, log: (msg: string) => void, opts: ProgressOptions = {}): Progress {
  const stream: ProgressStream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let total = 0;
  let value = 0;
  let started = 0;
  let redrawQueued = false;
  const stopBar = (): void => {
    bar?.stop();
    bar = null;
  };
  /** The bar again, on the line the cursor is on now. */
  const redraw = (): void => {
    bar?.render();
  };
  /** Clears the bar's line for whatever is written next, and draws the bar after it (this tick). */
  const makeRoom = (): void => {
    if (!bar) return;
    stream.write(CLEAR_LINE);
    if (redrawQueued) return;
    redrawQueued = true;
    queueMicrotask(() => {
      redrawQueued = false;
      redraw();
    });
  };
  // Prepended: this runs before the listeners that log the change (the coordinator's).
  const membership = (): void => {
    if (!bar) return;
    bar.update({ workers: pool.size });
    makeRoom();
  };
  pool.prependListener('join', membership);
  pool.prependListener('leave', membership);
  return {
    log: (msg) => {
      if (!bar) return log(msg);
      if (value >= total) {
        // The epoch's steps are done: the full bar stays in the scrollback, the summary follows it.
        stopBar();
        return log(msg);
      }
      stream.write(CLEAR_LINE);
      log(msg);
      redraw();
    },
    onEpochStart: (phase, epoch, steps) => {
      started = performance.now();
      if (!tty) return;
      stopBar();
      total = steps;
      value = 0;
      bar = new cliProgress.SingleBar(
        {
          format: `${phase} epoch ${epoch + 1} [{bar}] {value}/{total} | loss {loss} acc {acc} | {ips} img/s | ETA {eta_formatted} | {workers} workers`,
          stream: stream as NodeJS.WritableStream,
          hideCursor: true,
          etaBuffer: 50,
          // Heals the bar within a frame when another process wrote on its line.
          forceRedraw: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.on('redraw-pre', () => stream.write(SAVE_AT_LINE_START));
      bar.start(steps, 0, { loss: '-', acc: '-', ips: '-', workers: pool.size });
    },
    onStep: (info) => {
      if (!bar) return;
      const seconds = (performance.now() - started) / 1000;
      value = info.stepInEpoch;
      bar.update(info.stepInEpoch, {
        loss: info.loss.toFixed(4),
        acc: info.accuracy.toFixed(4),
        ips: (info.samples / seconds).toFixed(0),
        workers: info.workers,
      });
    },
    stop: () => {
      stopBar();
    },
  };
}
