import * as tf from '@tensorflow/tfjs';
import { ModelError, reasonOf } from './errors.js';
import { countGpus } from './gpus.js';
import { installWasmConvGradients } from './wasm-conv-gradients.js';
import { formatAdapter, startWebgpu, type AdapterProbe, type GpuAdapterInfo } from './webgpu.js';

/** Rungs of the backend ladder, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Every rung, in the order automatic choice tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** One rung tried: whether it worked, and why not. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason?: string;
}

/** The outcome of {@link selectBackend}. */
export interface BackendChoice {
  name: BackendName;
  /** `tf.getBackend()` after selection: 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  tfBackend: string;
  /** Human-readable device, e.g. 'GPU 0', 'NVIDIA H200 (webgpu, nvidia hopper)', 'CPU (wasm, 1 thread, simd)'. */
  device: string;
  /** The WebGPU adapter (vendor, architecture, device, driver) on the 'webgpu' rung. */
  adapter?: GpuAdapterInfo;
  /** Every rung tried, in order, with failure reasons. */
  attempts: BackendAttempt[];
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** Try exactly this rung; failure throws instead of falling through. */
  force?: BackendName;
  /**
   * GPU for this process: sets CUDA_VISIBLE_DEVICES before the tfjs-node-gpu import; on 'webgpu',
   * the index among the adapters Dawn lists (see webgpu.ts).
   */
  gpuIndex?: number;
  /** Receives one line per failed rung and one for the choice. */
  log?: (msg: string) => void;
  /** Module loader (tests inject failures); defaults to a dynamic `import(name)`. */
  importer?: (name: string) => Promise<unknown>;
  /** Environment that receives CUDA_VISIBLE_DEVICES (and DRI_PRIME on webgpu); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** NVIDIA PCI addresses for telling identical WebGPU adapters apart (tests); default: the driver's list. */
  pciAddresses?: () => string[];
  /** Lists the WebGPU adapters before automatic choice loads Dawn (tests); default: probeAdapters. */
  webgpuProbe?: () => Promise<AdapterProbe>;
}

/** npm package that provides each rung (cpu ships with @tensorflow/tfjs). */
export const BACKEND_MODULES: Readonly<Record<Exclude<BackendName, 'cpu'>, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
};

/** tfjs backend name each rung registers. */
const TF_BACKEND: Readonly<Record<BackendName, string>> = {
  'tensorflow-gpu': 'tensorflow',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/**
 * Loads a rung's package. The backends that are regular dependencies are named literally, so that
 * a bundle (the GPU check folder) carries them with the one tfjs it holds; every other name is a
 * variable on purpose: bundlers and tsc must not resolve the optional native modules (tfjs-node,
 * Dawn's `webgpu`), which are loaded at run time when present.
 */
const dynamicImport = (name: string): Promise<unknown> => {
  if (name === BACKEND_MODULES.wasm) return import('@tensorflow/tfjs-backend-wasm');
  if (name === BACKEND_MODULES.webgpu) return import('@tensorflow/tfjs-backend-webgpu');
  return import(name);
};

async function wasmDevice(): Promise<string> {
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  let threads = 1;
  try {
    const wasm = (await dynamicImport(BACKEND_MODULES.wasm)) as { getThreadsCount?: () => number };
    threads = wasm.getThreadsCount?.() ?? 1;
  } catch {
    // Reporting only: keep the default.
  }
  return `CPU (wasm, ${threads} thread${threads === 1 ? '' : 's'}${simd ? ', simd' : ''})`;
}

/** The device string of a webgpu choice: 'NVIDIA H200', 'SwiftShader Device (Subzero) (emulated on the CPU)'. */
export function describeAdapter(a: GpuAdapterInfo): string {
  return `${a.device}${a.emulated ? ' (emulated on the CPU)' : ''}`;
}

async function describe(name: BackendName, gpuIndex: number | undefined, adapter: GpuAdapterInfo | undefined): Promise<string> {
  switch (name) {
    case 'webgpu':
      return adapter ? describeAdapter(adapter) : 'GPU (webgpu)';
    case 'tensorflow-gpu':
      if (gpuIndex !== undefined) return `GPU ${gpuIndex}`;
      return countGpus() > 0 ? 'GPU 0' : 'CPU (libtensorflow-gpu, no GPU visible)';
    case 'tensorflow':
      return 'CPU (libtensorflow)';
    case 'wasm':
      return wasmDevice();
    case 'cpu':
      return 'CPU (tfjs cpu backend, JavaScript)';
  }
}

type RungOptions = Required<Pick<SelectBackendOptions, 'importer' | 'env'>> &
  Pick<SelectBackendOptions, 'gpuIndex' | 'pciAddresses' | 'webgpuProbe' | 'log'> & { forced: boolean };

/** Tries one rung; returns the failure reason, or the WebGPU adapter / true when the backend is now active. */
async function tryRung(name: BackendName, opts: RungOptions): Promise<string | GpuAdapterInfo | true> {
  if (name === 'webgpu') {
    try {
      return await startWebgpu({
        allowEmulated: opts.forced,
        importer: opts.importer,
        env: opts.env,
        ...(opts.gpuIndex !== undefined ? { gpuIndex: opts.gpuIndex } : {}),
        ...(opts.pciAddresses ? { pciAddresses: opts.pciAddresses } : {}),
        ...(opts.webgpuProbe ? { probe: opts.webgpuProbe } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
    } catch (err) {
      return reasonOf(err);
    }
  }
  if (name === 'tensorflow-gpu' && opts.gpuIndex !== undefined) {
    // libtensorflow reads it once, when the binding loads: it must precede the import.
    opts.env['CUDA_VISIBLE_DEVICES'] = String(opts.gpuIndex);
  }
  if (name !== 'cpu') {
    try {
      await opts.importer(BACKEND_MODULES[name]);
    } catch (err) {
      return `import('${BACKEND_MODULES[name]}') failed: ${reasonOf(err)}`;
    }
  }
  const backend = TF_BACKEND[name];
  if (tf.findBackendFactory(backend) === null) {
    return `${BACKEND_MODULES[name as Exclude<BackendName, 'cpu'>] ?? '@tensorflow/tfjs'} loaded but registered no '${backend}' backend`;
  }
  try {
    // setBackend resolves false (not throws) when initialisation fails; getBackend() may still
    // name the failed backend afterwards, so only the boolean counts.
    if (!(await tf.setBackend(backend))) return `tf.setBackend('${backend}') returned false`;
  } catch (err) {
    return `tf.setBackend('${backend}') threw: ${reasonOf(err)}`;
  }
  await tf.ready();
  return true;
}

/**
 * Chooses the fastest working TensorFlow.js backend:
 * 1. 'tensorflow-gpu': `@tensorflow/tfjs-node-gpu` (CUDA_VISIBLE_DEVICES = gpuIndex, when given,
 *    set on `env` before the import);
 * 2. 'webgpu': `@tensorflow/tfjs-backend-webgpu` on Dawn (`webgpu`), adapter `gpuIndex` (default
 *    0) of those Dawn lists; automatic choice takes only hardware adapters, a forced rung also
 *    emulated ones (SwiftShader, llvmpipe): see webgpu.ts;
 * 3. 'tensorflow': `@tensorflow/tfjs-node`;
 * 4. 'wasm': `@tensorflow/tfjs-backend-wasm` (then {@link installWasmConvGradients});
 * 5. 'cpu': the pure-JS backend (always present, far too slow to train).
 * The native packages are optional dependencies: absent, or present without a working binding
 * (libtensorflow download failed, no Vulkan driver), both count as a failed rung, logged with the reason.
 * Idempotent: a second call re-runs the cheap checks and re-selects the same backend.
 *
 * @throws ModelError E_BACKEND_UNAVAILABLE when `force` names a rung that fails, or (never in
 *   practice) when even 'cpu' fails.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const log = opts.log ?? (() => undefined);
  const rungOpts: RungOptions = {
    importer: opts.importer ?? dynamicImport,
    env: opts.env ?? process.env,
    forced: opts.force !== undefined,
    ...(opts.gpuIndex !== undefined ? { gpuIndex: opts.gpuIndex } : {}),
    ...(opts.pciAddresses ? { pciAddresses: opts.pciAddresses } : {}),
    ...(opts.webgpuProbe ? { webgpuProbe: opts.webgpuProbe } : {}),
    log,
  };
  const rungs = opts.force !== undefined ? [opts.force] : BACKEND_NAMES;
  const attempts: BackendAttempt[] = [];
  for (const name of rungs) {
    const outcome = await tryRung(name, rungOpts);
    if (typeof outcome === 'string') {
      attempts.push({ name, ok: false, reason: outcome });
      log(`backend ${name} unavailable: ${outcome}`);
      continue;
    }
    attempts.push({ name, ok: true });
    if (name === 'wasm') installWasmConvGradients();
    const adapter = outcome === true ? undefined : outcome;
    const choice: BackendChoice = {
      name,
      tfBackend: tf.getBackend(),
      device: await describe(name, opts.gpuIndex, adapter),
      attempts,
      ...(adapter ? { adapter } : {}),
    };
    log(`backend ${name} selected (tf backend '${choice.tfBackend}', ${choice.device}${formatAdapter(adapter)})`);
    return choice;
  }
  const summary = attempts.map((a) => `${a.name}: ${a.reason ?? 'ok'}`).join('; ');
  throw new ModelError(
    'E_BACKEND_UNAVAILABLE',
    opts.force !== undefined ? `forced backend ${opts.force} is unavailable (${summary})` : `no backend works (${summary})`,
  );
}
