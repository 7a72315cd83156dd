import type { ImageSet } from '@cifar-dist/data';
import type { StepTimings } from '@cifar-dist/training';
import type { GradDtype } from '@cifar-dist/protocol';
import { runPeer } from './peer.js';
import { BenchCluster } from './throughput.js';

/** The coordinator alone with N zero-compute workers over one path, beside the peer's equivalent. */
export interface CoordinatorRow {
  workers: number;
  /** 'shm': large frames through /dev/shm; 'socket': every frame over socket.io (--no-shm). */
  path: 'shm' | 'socket';
  globalBatch: number;
  /** Synchronous steps per second of wall time (median over windows). */
  stepsPerSecond: number;
  /** Median step wall time minus the slowest worker's compute, ms. */
  overheadMs: number;
  /** Median split of a step, ms. */
  step: StepTimings;
  /** Gradient bytes one worker sends per step. */
  gradientBytesPerWorker: number;
  /** PyTorch: gloo all_reduce + average + SGD step of the same parameters, N processes (median ms). */
  peer: { allreduceMs: number; optimizerMs: number; totalMs: number } | null;
  /** overheadMs / peer.totalMs (≤ 1: the goal is met). */
  ratio: number | null;
}

export interface CoordinatorOnlyFigures {
  /** The dtype the workers sent their gradients in. */
  gradDtype: GradDtype;
  rows: CoordinatorRow[];
  peer: { torch: string } | { reason: string };
}

/** Worker counts timed over shared memory and over the socket. */
export const SHM_COUNTS = [1, 2, 4, 8] as const;
export const SOCKET_COUNTS = [2, 4] as const;

/**
 * Times the coordinator's steps with zero-compute workers (ZeroComputeRuntime): for each count in
 * SHM_COUNTS over shared memory, each in SOCKET_COUNTS over the socket, then the PyTorch peer's
 * all_reduce + optimizer for the same counts (bench/peer_torch.py --coordinator-peer), in the same
 * run. Returns one row per (count, path).
 */
export async function benchCoordinatorOnly(opts: {
  source: ImageSet;
  perWorkerBatch: number;
  warmup: number;
  windows: number;
  windowSteps: number;
  python: string;
  peer: boolean;
  gradDtype?: GradDtype;
  log: (msg: string) => void;
}): Promise<CoordinatorOnlyFigures> {
  const rows: CoordinatorRow[] = [];
  for (const [path, counts] of [['shm', SHM_COUNTS], ['socket', SOCKET_COUNTS]] as const) {
    const cluster = new BenchCluster({ log: opts.log, zeroCompute: true, shm: path === 'shm', ...(opts.gradDtype ? { gradDtype: opts.gradDtype } : {}) });
    await cluster.start();
    try {
      await cluster.scaleTo(Math.max(...counts));
      for (const n of counts) {
        opts.log(`coordinator only: ${n} zero-compute workers over ${path === 'shm' ? 'shared memory' : 'the socket'}`);
        const f = await cluster.trainingAll(opts.source, opts.perWorkerBatch, opts.warmup, opts.windows, opts.windowSteps, n);
        rows.push({
          workers: n,
          path,
          globalBatch: f.globalBatch,
          stepsPerSecond: f.imagesPerSecond / f.globalBatch,
          overheadMs: f.overheadMs,
          step: f.step,
          gradientBytesPerWorker: f.gradientBytes,
          peer: null,
          ratio: null,
        });
      }
    } finally {
      await cluster.stop();
    }
  }
  let peer: CoordinatorOnlyFigures['peer'] = { reason: 'skipped (--no-peer)' };
  if (opts.peer) {
    const counts = [...new Set(rows.map((r) => r.workers))].sort((a, b) => a - b);
    opts.log(`PyTorch peer: gloo all_reduce + SGD step for ${counts.join(', ')} processes`);
    const result = await runPeer({ python: opts.python, workers: 1, quick: false, log: opts.log, extraArgs: ['--coordinator-peer', counts.join(','), '--reps', '40'] });
    if (result.ok && result.figures.coordinatorPeer) {
      peer = { torch: result.figures.torch };
      for (const r of rows) {
        const p = result.figures.coordinatorPeer.find((x) => x.workers === r.workers);
        if (p) {
          r.peer = { allreduceMs: p.allreduceMs, optimizerMs: p.optimizerMs, totalMs: p.totalMs };
          r.ratio = r.overheadMs / p.totalMs;
        }
      }
    } else {
      peer = { reason: result.ok ? 'the peer printed no coordinator figures' : result.reason };
      opts.log(`no PyTorch peer: ${peer.reason}`);
    }
  }
  return { gradDtype: opts.gradDtype ?? 'float32', rows, peer };
}

const f = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** The rows as a table: steps/s, overhead and its split, the peer, the ratio and whether the goal (≤ 1.0×) is met. */
export function formatCoordinatorOnly(fig: CoordinatorOnlyFigures, header: string): string {
  const lines = [
    header,
    'torch' in fig.peer ? `PyTorch ${fig.peer.torch}: gloo all_reduce + average + SGD step, N processes` : '',
    `gradients: ${fig.gradDtype}, ${fig.rows[0] ? `${(fig.rows[0].gradientBytesPerWorker / 1e6).toFixed(2)} MB per worker per step` : ''}`,
    'N  path    steps/s  overhead ms  (prepare wire average optimizer)  peer ms (all_reduce + optimizer)  ratio  goal',
  ];
  for (const r of fig.rows) {
    const goal = r.workers < 2 || r.path !== 'shm' ? '' : r.ratio === null ? '?' : r.ratio <= 1 ? 'met' : 'not met';
    lines.push(
      `${String(r.workers).padEnd(2)} ${r.path.padEnd(7)} ${f(r.stepsPerSecond, 1).padStart(7)}  ${f(r.overheadMs).padStart(11)}  ` +
        `(${f(r.step.prepareMs)} ${f(r.step.wireMs)} ${f(r.step.averageMs)} ${f(r.step.optimizerMs)})`.padEnd(32) +
        `  ${r.peer ? `${f(r.peer.totalMs)} (${f(r.peer.allreduceMs)} + ${f(r.peer.optimizerMs)})` : '-'}`.padEnd(34) +
        `  ${r.ratio === null ? '-' : `${f(r.ratio)}×`}  ${goal}`,
    );
  }
  if ('reason' in fig.peer) lines.push(`no peer: ${fig.peer.reason}`);
  return lines.filter((l) => l !== '').join('\n');
}
