import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER_MAIN = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
const WORKER_TSCONFIG = fileURLToPath(new URL('../../worker/tsconfig.json', import.meta.url));

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
}

/**
 * Starts one worker as its own Node process: apps/worker from source (tsx loader), or, in a
 * bundled build (the GPU check folder), the worker bundle named by CIFAR_DIST_WORKER_BUNDLE.
 */
export function spawnLocalWorker(o: LocalWorkerOptions): ChildProcess {
  const bundle = process.env['CIFAR_DIST_WORKER_BUNDLE'];
  const entry = bundle ? [bundle] : ['--import', import.meta.resolve('tsx'), WORKER_MAIN];
  const args = [...entry, '--connect', o.url, '--worker-id', o.workerId, '--exit-with-parent'];
  if (o.backend) args.push('--backend', o.backend);
  if (o.gpu !== undefined) args.push('--gpu', String(o.gpu));
  const stdio = o.stdio ?? 'inherit';
  return spawn(process.execPath, args, {
    stdio: ['ignore', stdio, stdio],
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: WORKER_TSCONFIG,
      ...(o.token ? { CIFAR_DIST_TOKEN: o.token } : {}),
    },
  });
}
