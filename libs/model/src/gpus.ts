import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName } from './backend.js';
import { ModelError } from './errors.js';
import { isEmulatedAdapterName, probeAdapters, type AdapterProbe } from './webgpu.js';

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

/**
 * True when @tensorflow/tfjs-node-gpu is installed with its native binding (its install step
 * downloads libtensorflow; where that failed the package may be present without the binding).
 * Checked without importing it, so the caller never loads TensorFlow itself.
 */
export function tfjsNodeGpuInstalled(): boolean {
  try {
    const pkg = fileURLToPath(import.meta.resolve('@tensorflow/tfjs-node-gpu/package.json'));
    const lib = path.join(path.dirname(pkg), 'lib');
    return existsSync(lib) && readdirSync(lib).some((d) => existsSync(path.join(lib, d, 'tfjs_binding.node')));
  } catch {
    return false;
  }
}

/**
 * WebGPU adapters Dawn lists, by kind (listed in a child process, see probeAdapters); zeros when
 * the `webgpu` package or a Vulkan driver is missing.
 */
export async function countWebgpuAdapters(
  probe: () => Promise<AdapterProbe> = () => probeAdapters(),
): Promise<{ hardware: number; emulated: number }> {
  const listed = (await probe()).adapters;
  const emulated = listed.filter((a) => isEmulatedAdapterName(a.name)).length;
  return { hardware: listed.length - emulated, emulated };
}

/** Probes of {@link launchGpus} (tests inject them). */
export interface LaunchGpuProbes {
  tfjsNodeGpuInstalled?: () => boolean;
  countGpus?: () => number;
  countWebgpuAdapters?: () => Promise<{ hardware: number; emulated: number }>;
}

/** What {@link launchGpus} found: how many GPUs, and the rung that uses them. */
export interface LaunchGpus {
  gpus: number;
  /** The rung the GPUs were counted for; the launcher gives it to every worker. Absent with 0 GPUs. */
  backend?: 'tensorflow-gpu' | 'webgpu';
}

/**
 * How many GPUs the workers of a local launch can use with `backend` (undefined: automatic
 * choice), so that the launcher starts one worker per GPU, gives worker i `--gpu i`, and names
 * the rung (a worker that cannot use its GPU then stops, rather than training on its CPU):
 * - 'tensorflow-gpu': NVIDIA GPUs ({@link countGpus}) when tfjs-node-gpu's binding is installed;
 * - 'webgpu': the hardware adapters Dawn lists, else (forced, no GPU) its emulated ones;
 * - automatic: the first of those two that finds a GPU (emulated adapters do not count);
 * - any CPU backend: 0 (the launcher then starts one worker per core).
 */
export async function launchGpus(backend: BackendName | undefined, probes: LaunchGpuProbes = {}): Promise<LaunchGpus> {
  const nodeGpu = (): number => ((probes.tfjsNodeGpuInstalled ?? tfjsNodeGpuInstalled)() ? (probes.countGpus ?? countGpus)() : 0);
  const webgpu = probes.countWebgpuAdapters ?? (() => countWebgpuAdapters());
  const found = (gpus: number, rung: 'tensorflow-gpu' | 'webgpu'): LaunchGpus => (gpus > 0 ? { gpus, backend: rung } : { gpus: 0 });
  switch (backend) {
    case undefined: {
      const n = nodeGpu();
      return n > 0 ? found(n, 'tensorflow-gpu') : found((await webgpu()).hardware, 'webgpu');
    }
    case 'tensorflow-gpu':
      return found(nodeGpu(), 'tensorflow-gpu');
    case 'webgpu': {
      const { hardware, emulated } = await webgpu();
      return found(hardware > 0 ? hardware : emulated, 'webgpu');
    }
    default:
      return { gpus: 0 };
  }
}

/**
 * The GPUs a per-node stage gives its workers, one worker each, by index: the list given
 * (`--gpus 2,3`), else CUDA_VISIBLE_DEVICES (how Slurm, the Kubernetes device plugin and most
 * schedulers name the GPUs they assigned: a worker pinned to index i then sets
 * CUDA_VISIBLE_DEVICES=i, see selectBackend), else the `detected` GPUs 0..detected-1. An empty
 * CUDA_VISIBLE_DEVICES, `NoDevFiles` (Slurm, no GPU allocated) or a negative index mean none.
 * @throws ModelError E_GPU_LIST for entries that are not indices (GPU UUIDs, MIG names): pass --gpus
 */
export function nodeGpuIds(list: string | undefined, env: NodeJS.ProcessEnv, detected: number): number[] {
  const fromEnv = env['CUDA_VISIBLE_DEVICES'];
  const source = list !== undefined ? { what: '--gpus', text: list } : fromEnv !== undefined ? { what: 'CUDA_VISIBLE_DEVICES', text: fromEnv } : null;
  if (source === null) return Array.from({ length: detected }, (_, i) => i);
  const text = source.text.trim();
  if (text === '' || text === 'NoDevFiles' || /^-\d+$/.test(text)) return [];
  return text.split(',').map((entry) => {
    const id = entry.trim();
    if (!/^\d+$/.test(id)) {
      throw new ModelError('E_GPU_LIST', `${source.what}=${source.text}: '${id}' is not a GPU index (name the GPUs by index, e.g. --gpus 0,1)`);
    }
    return Number(id);
  });
}
