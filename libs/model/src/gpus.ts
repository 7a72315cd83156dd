import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Injectable probes of {@link countGpus} (tests); the defaults read the real machine. */
export interface GpuProbes {
  /** stdout of `nvidia-smi -L`, or null when it cannot run. */
  nvidiaSmiList?: () => string | null;
  /** Entries of /proc/driver/nvidia/gpus (one per GPU), or null when absent. */
  procGpuEntries?: () => string[] | null;
}

function runNvidiaSmi(): string | null {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && typeof r.stdout === 'string' ? r.stdout : null;
}

function listProcGpus(): string[] | null {
  try {
    return readdirSync('/proc/driver/nvidia/gpus');
  } catch {
    return null;
  }
}

/**
 * Number of NVIDIA GPUs on the machine: lines `GPU n: ...` of `nvidia-smi -L`, else the entries
 * of /proc/driver/nvidia/gpus (present with the driver even where nvidia-smi is not installed),
 * else 0. Physical count: CUDA_VISIBLE_DEVICES is not applied (the launcher sets it per worker).
 */
export function countGpus(probes: GpuProbes = {}): number {
  const list = (probes.nvidiaSmiList ?? runNvidiaSmi)();
  if (list !== null) {
    const n = list.split('\n').filter((l) => /^GPU \d+:/.test(l.trim())).length;
    if (n > 0) return n;
  }
  return (probes.procGpuEntries ?? listProcGpus)()?.length ?? 0;
}
