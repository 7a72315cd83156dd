import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ImageSet } from '@cifar-dist/data';
import { createModel, tf } from '@cifar-dist/model';
import {
  PhaseRunner,
  SocketCoordinatorServer,
  WorkerPool,
  defaultConfig,
  type StepInfo,
  type StepTimings,
} from '@cifar-dist/training';
import type { AdapterInfo, GradDtype } from '@cifar-dist/protocol';
import { stopChildren } from '../shutdown.js';
import { spawnLocalWorker } from '../spawn-worker.js';
import { peakRssMb } from './rss.js';
import { median } from './stats.js';

/** Training throughput through the real coordinator with some number of workers. */
export interface TrainingFigures {
  workers: number;
  /** Global batch (per-worker batch × workers). */
  globalBatch: number;
  /** Median over the windows of images per second of wall time. */
  imagesPerSecond: number;
  windows: number[];
  /** Medians over the measured steps of each part of a step, ms. */
  step: StepTimings;
  /** Median over the measured steps of the step's wall time minus the slowest worker's compute, ms. */
  overheadMs: number;
  /** Median gradient bytes received per step, divided by the workers. */
  gradientBytes: number;
}

export interface InferenceFigures {
  workers: number;
  images: number;
  imagesPerSecond: number;
}

/** A cluster for measuring: the coordinator's server and pool in this process, workers as processes. */
export class BenchCluster {
  readonly pool = new WorkerPool();
  private server: SocketCoordinatorServer | null = null;
  private url = '';
  private readonly children: ChildProcess[] = [];
  private modelId = 0;

  /**
   * @param opts.zeroCompute workers that skip the compute (a measuring tool: the coordinator alone)
   * @param opts.shm shared memory with the workers (default true); false: every frame over the socket
   */
  constructor(private readonly opts: { backend?: string; zeroCompute?: boolean; shm?: boolean; gradDtype?: GradDtype; log: (msg: string) => void }) {}

  async start(): Promise<void> {
    tf.enableProdMode();
    await tf.setBackend('cpu');
    this.server = new SocketCoordinatorServer({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: 64 * 1024 * 1024,
      requestTimeoutMs: 300_000,
      pool: this.pool,
      runId: randomUUID(),
      shm: this.opts.shm !== false,
    });
    this.url = `http://127.0.0.1:${await this.server.start()}`;
  }

  /**
   * Starts worker processes until `n` are live.
   * @throws Error with the end of its log when a worker process exits before joining (its
   *   backend failed), or when they are not all live after 120 s.
   */
  async scaleTo(n: number): Promise<void> {
    const exits: Array<Promise<never>> = [];
    while (this.children.length < n) {
      const workerId = `bench${this.children.length}`;
      const child = this.opts.zeroCompute
        ? spawnZeroComputeWorker(this.url, workerId, this.children.length + 1, this.opts.shm !== false)
        : spawnLocalWorker({ url: this.url, workerId, stdio: 'pipe', ...(this.opts.backend ? { backend: this.opts.backend } : {}) });
      let tail = '';
      const keep = (d: Buffer): void => {
        tail = (tail + d.toString()).slice(-4000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const exit = new Promise<never>((_, reject) =>
        child.once('exit', (code, signal) => reject(new Error(`worker ${workerId} exited (${signal ?? code}): ${lastLines(tail)}`))),
      );
      exit.catch(() => undefined); // an exit after the workers joined is stop()'s business
      exits.push(exit);
      this.children.push(child);
    }
    await Promise.race([this.pool.waitFor(n, 120_000), ...exits]);
  }

  /** Peak RSS (MiB) of each live worker process, by worker id. */
  workerPeakRss(): Record<string, number | null> {
    return Object.fromEntries(this.pool.live().map((l) => [l.info.workerId, peakRssMb(l.info.pid)]));
  }

  get backends(): string[] {
    return this.pool.live().map((l) => `${l.info.backend} (${l.info.device})`);
  }

  /** What each live worker reported of itself: backend, device and GPU adapter. */
  get workerInfo(): Array<{ backend: string; device: string; adapter?: AdapterInfo }> {
    return this.pool.live().map((l) => ({ backend: l.info.backend, device: l.info.device, ...(l.info.adapter ? { adapter: l.info.adapter } : {}) }));
  }

  private runner(train: ImageSet, test: ImageSet, batchSize: number, pool: WorkerPool, onStep?: (s: StepInfo) => void): PhaseRunner {
    const model = createModel({ numClasses: train.classNames.length, seed: 1 });
    const config = defaultConfig({ batchSize, evaluateTrain: false, augment: true, dropout: true, ...(this.opts.gradDtype ? { gradDtype: this.opts.gradDtype } : {}) });
    return new PhaseRunner({
      name: 'cifar10',
      model,
      modelId: ++this.modelId,
      numClasses: train.classNames.length,
      classNames: train.classNames,
      frozenLayers: 0,
      train,
      test,
      epochs: 1,
      schedule: { lr: 0.01, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
      config,
      pool,
      hooks: onStep ? { onStep } : {},
    });
  }

  /** A pool of the first `n` live workers (they stay in the server's pool too). */
  private subPool(n: number): WorkerPool {
    const pool = new WorkerPool();
    for (const link of this.pool.live().slice(0, n)) pool.add(link);
    return pool;
  }

  /**
   * Trains `warmup` + `stepsPerWindow` steps on `pool` with `perWorkerBatch` × its workers per
   * global batch: the images/s of the timed window and each timed step's split.
   */
  private async window(pool: WorkerPool, source: ImageSet, perWorkerBatch: number, warmup: number, stepsPerWindow: number): Promise<WindowRun> {
    const globalBatch = perWorkerBatch * pool.size;
    const train = slice(source, (warmup + stepsPerWindow) * globalBatch);
    const stamps: number[] = [];
    const timings: StepTimings[] = [];
    const bytes: number[] = [];
    const runner = this.runner(train, slice(source, pool.size), globalBatch, pool, (s) => {
      stamps.push(performance.now());
      if (s.step > warmup) {
        timings.push(s.timings);
        bytes.push(s.gradientBytes / s.workers);
      }
    });
    await runner.run();
    runner.opts.model.dispose();
    const start = stamps[warmup - 1] as number;
    const end = stamps[warmup + stepsPerWindow - 1] as number;
    return { rate: (stepsPerWindow * globalBatch * 1000) / (end - start), timings, bytes };
  }

  /**
   * Training throughput of 1 worker and of every live worker, measured in alternating windows
   * (1, N, 1, N, ...) so that a slow spell of the machine weighs on both alike: per
   * configuration the median images/s over its windows and the median split of its steps.
   */
  async training(source: ImageSet, perWorkerBatch: number, warmup: number, windows: number, stepsPerWindow: number): Promise<{ single: TrainingFigures; multi: TrainingFigures }> {
    const one = this.subPool(1);
    const all = this.subPool(this.pool.size);
    const runs = { single: [] as WindowRun[], multi: [] as WindowRun[] };
    for (let w = 0; w < windows; w++) {
      runs.single.push(await this.window(one, source, perWorkerBatch, Math.max(1, warmup), stepsPerWindow));
      runs.multi.push(await this.window(all, source, perWorkerBatch, Math.max(1, warmup), stepsPerWindow));
    }
    return { single: figuresOf(1, perWorkerBatch, runs.single), multi: figuresOf(all.size, perWorkerBatch, runs.multi) };
  }

  /** Training throughput of the first `workers` live workers (default all) together: `windows` windows, the median and split. */
  async trainingAll(source: ImageSet, perWorkerBatch: number, warmup: number, windows: number, stepsPerWindow: number, workers = this.pool.size): Promise<TrainingFigures> {
    const all = this.subPool(workers);
    const runs: WindowRun[] = [];
    for (let w = 0; w < windows; w++) runs.push(await this.window(all, source, perWorkerBatch, Math.max(1, warmup), stepsPerWindow));
    return figuresOf(all.size, perWorkerBatch, runs);
  }

  /** Sharded forward pass over `count` images (after one warm-up pass over a few chunks). */
  async inference(source: ImageSet, count: number): Promise<InferenceFigures> {
    const set = slice(source, count);
    const runner = this.runner(set, set, 64, this.pool);
    await runner.predict(slice(source, 500 * this.pool.size));
    const t0 = performance.now();
    await runner.predict(set);
    const seconds = (performance.now() - t0) / 1000;
    runner.opts.model.dispose();
    return { workers: this.pool.size, images: count, imagesPerSecond: count / seconds };
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await stopChildren(this.children, 10_000, { terminate: false });
  }
}

/** A worker process that skips the compute (zero-compute-worker.ts), output piped. */
function spawnZeroComputeWorker(url: string, workerId: string, seed: number, shm: boolean): ChildProcess {
  return spawnLocalWorker({ url, workerId, stdio: 'pipe', zeroCompute: { seed, shm } });
}

/** The last log lines of a worker, as one line (JSON log lines shown by their message). */
function lastLines(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '').slice(-3);
  return lines.map((l) => {
    try {
      return String((JSON.parse(l) as { msg?: unknown }).msg ?? l);
    } catch {
      return l;
    }
  }).join(' | ');
}

/** One timed window: its images/s and the split of each timed step. */
interface WindowRun {
  rate: number;
  timings: StepTimings[];
  /** Gradient bytes per worker of each timed step. */
  bytes: number[];
}

/** The median images/s over the windows and the median of each part of their steps. */
function figuresOf(workers: number, perWorkerBatch: number, list: WindowRun[]): TrainingFigures {
  const timings = list.flatMap((r) => r.timings);
  const pick = (k: keyof StepTimings): number => median(timings.map((t) => t[k]));
  return {
    workers,
    globalBatch: perWorkerBatch * workers,
    imagesPerSecond: median(list.map((r) => r.rate)),
    windows: list.map((r) => r.rate),
    overheadMs: median(timings.map((t) => t.stepMs - t.computeMs)),
    gradientBytes: median(list.flatMap((r) => r.bytes)),
    step: {
      prepareMs: pick('prepareMs'),
      computeMs: pick('computeMs'),
      wireMs: pick('wireMs'),
      averageMs: pick('averageMs'),
      optimizerMs: pick('optimizerMs'),
      stepMs: pick('stepMs'),
    },
  };
}

/** The first `count` images of `source`, cycling through it when it is shorter. */
export function slice(source: ImageSet, count: number): ImageSet {
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = i % source.count;
    images.set(source.images.subarray(j * 3072, (j + 1) * 3072), i * 3072);
    labels[i] = source.labels[j] as number;
  }
  return { images, labels, count, classNames: source.classNames };
}

/** `count` random images and labels (throughput does not depend on pixel values). */
export function syntheticSet(count: number, classNames: string[]): ImageSet {
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classNames.length);
  return { images, labels, count, classNames };
}
