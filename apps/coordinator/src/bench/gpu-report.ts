/** The figures and the table of `npm run bench:gpu` (gpu.ts). */
import { InvalidArgumentError } from 'commander';
import { BACKEND_NAMES, type BackendName } from '@cifar-dist/model';
import type { AdapterInfo } from '@cifar-dist/protocol';
import type { StepTimings } from '@cifar-dist/training';

/** One measured configuration: `workers` processes of `backend` (GPU workers share GPU 0). */
export interface GpuBenchConfig {
  backend: BackendName;
  workers: number;
}

/** The figures of one configuration, or why it has none. */
export interface GpuBenchRow extends GpuBenchConfig {
  ok: boolean;
  reason?: string;
  /** What the workers reported: device and GPU adapter. */
  devices?: Array<{ device: string; adapter?: AdapterInfo }>;
  imagesPerSecond?: number;
  windows?: number[];
  step?: StepTimings;
  seconds: number;
}

/** The JSON of a GPU bench run. */
export interface GpuBenchReport {
  date: string;
  machine: string;
  /** `nvidia-smi -L`, when it runs. */
  gpus: string | null;
  data: string;
  batchPerWorker: number;
  rows: GpuBenchRow[];
  peer: { ok: true; torch: string; gpu?: string; cuda?: string; imagesPerSecond: number } | { ok: false; reason: string };
  /** The issue's goals: one webgpu worker ≥ 20× one wasm worker, ≥ 0.5× PyTorch on CUDA. */
  ratios: { webgpuOverWasm: number | null; webgpuOverTorchCuda: number | null; webgpuScaling: Record<string, number | null> };
  wallSeconds: number;
}

/** Parses `webgpu:1,webgpu:2,wasm:1`. */
export function parseConfigs(text: string): GpuBenchConfig[] {
  return text.split(',').map((part) => {
    const [backend, n] = part.trim().split(':');
    const workers = Number(n ?? '1');
    if (!BACKEND_NAMES.includes(backend as BackendName)) throw new InvalidArgumentError(`unknown backend '${backend}' in --configs (${BACKEND_NAMES.join(', ')})`);
    if (!Number.isInteger(workers) || workers < 1) throw new InvalidArgumentError(`bad worker count '${n}' in --configs`);
    return { backend: backend as BackendName, workers };
  });
}

/**
 * The goal ratios of a run: the 1-worker webgpu rate over the 1-worker wasm rate and over
 * PyTorch on CUDA, and each N-worker webgpu rate over the 1-worker one; null where a figure is missing.
 */
export function gpuRatios(rows: GpuBenchRow[], torchCuda: number | null): GpuBenchReport['ratios'] {
  const rate = (backend: string, workers: number): number | null => rows.find((r) => r.ok && r.backend === backend && r.workers === workers)?.imagesPerSecond ?? null;
  const div = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
  const gpu1 = rate('webgpu', 1);
  const scaling: Record<string, number | null> = {};
  for (const r of rows) if (r.backend === 'webgpu' && r.workers > 1) scaling[String(r.workers)] = div(rate('webgpu', r.workers), gpu1);
  return { webgpuOverWasm: div(gpu1, rate('wasm', 1)), webgpuOverTorchCuda: div(gpu1, torchCuda), webgpuScaling: scaling };
}

const f = (x: number | null | undefined, d = 1): string => (x === null || x === undefined ? '-' : x.toFixed(d));

/** The human table of a GPU bench run. */
export function formatGpuBench(r: GpuBenchReport): string {
  const lines = [
    `cifar-dist GPU bench ${r.date} on ${r.machine}`,
    `GPUs: ${r.gpus?.trim().replace(/\n/g, '; ') || 'nvidia-smi not available'}; batch ${r.batchPerWorker} per worker; data: ${r.data}`,
    '',
  ];
  for (const row of r.rows) {
    const who = `${row.backend} × ${row.workers}`.padEnd(12);
    if (!row.ok) {
      lines.push(`${who} failed: ${row.reason}`);
      continue;
    }
    const dev = row.devices?.[0];
    const s = row.step as StepTimings;
    lines.push(
      `${who} ${f(row.imagesPerSecond).padStart(9)} img/s   step ${f(s.stepMs)} ms (compute ${f(s.computeMs)}, wire ${f(s.wireMs)}, average ${f(s.averageMs)}, optimizer ${f(s.optimizerMs)})   ` +
        `${dev?.device ?? ''}${dev?.adapter ? `, ${dev.adapter.vendor} ${dev.adapter.architecture}, driver ${dev.adapter.driver}` : ''}`,
    );
  }
  lines.push(r.peer.ok ? `PyTorch ${r.peer.torch} on ${r.peer.gpu ?? 'cuda'} (CUDA ${r.peer.cuda ?? '?'}): ${f(r.peer.imagesPerSecond)} img/s` : `PyTorch on CUDA: ${r.peer.reason}`);
  lines.push(
    `webgpu × 1 / wasm × 1: ${f(r.ratios.webgpuOverWasm, 2)} (goal ≥ 20)   webgpu × 1 / PyTorch CUDA: ${f(r.ratios.webgpuOverTorchCuda, 2)} (goal ≥ 0.5)   ` +
      `scaling on one GPU: ${Object.entries(r.ratios.webgpuScaling).map(([n, v]) => `${n}: ${f(v, 2)}`).join(', ') || '-'}`,
  );
  return lines.join('\n');
}
