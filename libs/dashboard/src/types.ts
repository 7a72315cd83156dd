/**
 * The events the coordinator publishes to the live run page, and the snapshot the page (and
 * `GET /state`) receives. Plain JSON data: numbers that are not finite (NaN loss) travel as null.
 */

/** One connected worker process as the coordinator sees it. */
export interface DashboardWorker {
  workerId: string;
  /** Position in the current training group; absent while the worker is not yet ranked. */
  rank?: number;
  /** TensorFlow.js backend name, e.g. `wasm`, `tensorflow`, `cpu`. */
  backend: string;
  /** Human-readable device, e.g. `cpu` or `GPU 0`. */
  device: string;
  hostname: string;
  pid: number;
  /** The GPU adapter of a webgpu worker: vendor, architecture, device name, driver. */
  adapter?: { vendor: string; architecture: string; device: string; driver: string; emulated: boolean; index: number };
}

/** A run started (or restarted): resets everything the page shows. */
export interface RunEvent {
  type: 'run';
  runId: string;
  /** ISO 8601 timestamp. */
  startedAt: string;
  config: Record<string, unknown>;
}

/** The full worker list, sent after every join and leave. */
export interface WorkersEvent {
  type: 'workers';
  workers: DashboardWorker[];
}

/** A training phase begins. */
export interface PhaseEvent {
  type: 'phase';
  phase: 'cifar10' | 'finetune';
  epochs: number;
  stepsPerEpoch: number;
  numClasses: number;
}

/** One optimizer step finished. `step` is the x value of the step charts; keep it increasing. */
export interface StepEvent {
  type: 'step';
  phase: string;
  /** 1-based epoch within the phase. */
  epoch: number;
  step: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** Mean training loss of this step's global batch. */
  loss: number;
  /** Training accuracy of this step's global batch, 0..1. */
  accuracy: number;
  /**
   * What the page's loss curve plots: the mean training loss over the phase's last `avgSteps`
   * steps, weighted by batch size (a moving average that runs across epochs; see StepAverager).
   */
  avgLoss: number;
  /** What the accuracy curve plots: the training accuracy over the same steps, 0..1. */
  avgAccuracy: number;
  /** Steps in the average: STEP_WINDOW, fewer in a phase's first steps. */
  avgSteps: number;
  imagesPerSecond: number;
  /** Workers that contributed to this step. */
  workers: number;
  /** Learning rate used by this step. */
  lr: number;
}

/** One epoch finished and was evaluated; accuracies 0..1, `seconds` wall time of the epoch. */
export interface EpochEvent {
  type: 'epoch';
  phase: string;
  epoch: number;
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
  imagesPerSecond: number;
}

export type RunState = 'waiting' | 'training' | 'evaluating' | 'finished' | 'failed';

/** What the run is doing now; `message` is shown beside it (at most 1000 characters are kept). */
export interface StatusEvent {
  type: 'status';
  state: RunState;
  message?: string;
}

export type DashboardEvent = RunEvent | WorkersEvent | PhaseEvent | StepEvent | EpochEvent | StatusEvent;

/**
 * Everything published so far, bounded: `steps` holds at most `maxSteps` points, evenly thinned
 * (every `stepStride`-th of the `stepsSeen` step events since the last run event, starting with
 * the first), `epochs` at most the newest 10,000 epoch events.
 */
export interface DashboardSnapshot {
  run: RunEvent | null;
  workers: DashboardWorker[];
  phase: PhaseEvent | null;
  status: StatusEvent | null;
  steps: StepEvent[];
  /** The newest step event, kept even when thinning dropped it from `steps`. */
  lastStep: StepEvent | null;
  /** Step events received since the last run event. */
  stepsSeen: number;
  /** Only step events whose 0-based arrival index is a multiple of this are kept. */
  stepStride: number;
  maxSteps: number;
  epochs: EpochEvent[];
}

/** One Server-Sent Events message on `/events`: first a snapshot, then each published event. */
export type DashboardMessage = { type: 'snapshot'; state: DashboardSnapshot } | DashboardEvent;
