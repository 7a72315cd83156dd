import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER_MAIN = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
const WORKER_TSCONFIG = fileURLToPath(new URL('../../worker/tsconfig.json', import.meta.url));
const ZERO_COMPUTE_WORKER = fileURLToPath(new URL('./bench/zero-compute-worker.ts', import.meta.url));
const COORDINATOR_TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

export interface LocalWorkerOptions {
  /** Coordinator URL, e.g. http://127.0.0.1:8080. */
  url: string;
  workerId: string;
  backend?: string;
  /** Pin the worker to this GPU (CUDA_VISIBLE_DEVICES in the worker). */
  gpu?: number;
  token?: string;
  /** 'inherit' shows the worker's log lines; 'ignore' hides them; 'pipe' hands them to the caller (benchmarks). */
  stdio?: 'inherit' | 'ignore' | 'pipe';
  /**
   * A measuring tool, never a training path: start bench/zero-compute-worker.ts instead (answers
   * at once with seeded noise; `seed` tells the workers apart), so that a benchmark times the rest.
   */
  zeroCompute?: { seed: number; shm?: boolean };
}

/**
 * Starts one worker as its own Node process: apps/worker from source (tsx loader), or, in a
 * bundled build (the GPU check folder), the worker bundle named by CIFAR_DIST_WORKER_BUNDLE.
 */
export function spawnLocalWorker(o: LocalWorkerOptions): ChildProcess {
  const stdio = o.stdio ?? 'inherit';
  const tokenEnv = o.token ? { CIFAR_DIST_TOKEN: o.token } : {};
  if (o.zeroCompute) {
    const args = ['--import', import.meta.resolve('tsx'), ZERO_COMPUTE_WORKER, o.url, o.workerId, String(o.zeroCompute.seed), ...(o.zeroCompute.shm === false ? ['--no-shm'] : [])];
    return spawn(process.execPath, args, { stdio: ['ignore', stdio, stdio], env: { ...process.env, TSX_TSCONFIG_PATH: COORDINATOR_TSCONFIG, ...tokenEnv } });
  }
  const bundle = process.env['CIFAR_DIST_WORKER_BUNDLE'];
  const entry = bundle ? [bundle] : ['--import', import.meta.resolve('tsx'), WORKER_MAIN];
  const args = [...entry, '--connect', o.url, '--worker-id', o.workerId, '--exit-with-parent'];
  if (o.backend) args.push('--backend', o.backend);
  if (o.gpu !== undefined) args.push('--gpu', String(o.gpu));
  return spawn(process.execPath, args, { stdio: ['ignore', stdio, stdio], env: { ...process.env, TSX_TSCONFIG_PATH: WORKER_TSCONFIG, ...tokenEnv } });
}
