import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const CHILD = fileURLToPath(new URL('./compute-only.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

/** What the machine gives N independent training loops, with no coordinator and no exchange. */
export interface CeilingFigures {
  /** Images/s of one process alone. */
  single: number;
  /** Sum over N processes running at once of each one's images/s. */
  multi: number;
  workers: number;
  /** multi / single: the best scaling any data-parallel trainer could show on this machine. */
  scaling: number;
  /** Median step ms of each process in the N-process run (unequal cores show here). */
  stepMs: number[];
}

function runChild(batch: number, warmup: number, steps: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CHILD, String(batch), String(warmup), String(steps)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`compute-only child exited with ${code}`));
      try {
        resolve((JSON.parse(out.trim().split('\n').at(-1) ?? '') as { stepMs: number[] }).stepMs);
      } catch (err) {
        reject(new Error(`compute-only child printed no figures: ${(err as Error).message}`));
      }
    });
  });
}

/**
 * The compute-only ceiling of scaling: one training loop alone, then `workers` loops at once,
 * each a separate process like a worker (wasm, batch `batch`), alternated `rounds` times so that a
 * slow spell of the machine weighs on both alike. Two busy processes on two vCPUs slow each other
 * (shared caches and memory bandwidth, or hyperthreads of one core behind the VM), so this bounds
 * what any trainer's scaling can reach here.
 */
export async function computeCeiling(workers: number, batch: number, warmup: number, steps: number, rounds = 1): Promise<CeilingFigures> {
  const alone: number[] = [];
  const together: number[][] = Array.from({ length: workers }, () => []);
  for (let r = 0; r < rounds; r++) {
    alone.push(...(await runChild(batch, warmup, steps)));
    const runs = await Promise.all(Array.from({ length: workers }, () => runChild(batch, warmup, steps)));
    runs.forEach((ms, k) => together[k]?.push(...ms));
  }
  const stepMs = together.map(median);
  const single = (batch * 1000) / median(alone);
  const multi = stepMs.reduce((s, ms) => s + (batch * 1000) / ms, 0);
  return { single, multi, workers, scaling: multi / single, stepMs };
}
