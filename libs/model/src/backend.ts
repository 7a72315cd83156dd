import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';
import { countGpus } from './gpus.js';
import { installWasmConvGradients } from './wasm-conv-gradients.js';

/** Rungs of the backend ladder, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** One rung tried: whether it worked, and why not. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason?: string;
}

/** The outcome of {@link selectBackend}. */
export interface BackendChoice {
  name: BackendName;
  /** `tf.getBackend()` after selection: 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  /** Human-readable device, e.g. 'GPU 0', 'CPU (wasm, 1 thread, simd)'. */
  device: string;
  /** Every rung tried, in order, with failure reasons. */
  attempts: BackendAttempt[];
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** Try exactly this rung; failure throws instead of falling through. */
  force?: BackendName;
  /** GPU for this process: sets CUDA_VISIBLE_DEVICES before the tfjs-node-gpu import. */
  gpuIndex?: number;
  /** Receives one line per failed rung and one for the choice. */
  log?: (msg: string) => void;
  /** Module loader (tests inject failures); defaults to a dynamic `import(name)`. */
  importer?: (name: string) => Promise<unknown>;
  /** Environment that receives CUDA_VISIBLE_DEVICES; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

const LADDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** npm package that provides each rung (cpu ships with @tensorflow/tfjs). */
export const BACKEND_MODULES: Readonly<Record<Exclude<BackendName, 'cpu'>, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
};

/** tfjs backend name each rung registers. */
const TF_BACKEND: Readonly<Record<BackendName, string>> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

// The name is a variable on purpose: bundlers and tsc must not resolve optional native modules.
const dynamicImport = (name: string): Promise<unknown> => import(name);

/** An error as one bounded line: native loaders put paths (the useful part) on later lines. */
function reasonOf(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

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

async function describe(name: BackendName, gpuIndex: number | undefined): Promise<string> {
  switch (name) {
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

/** Tries one rung; returns the failure reason, or undefined when the backend is now active. */
async function tryRung(
  name: BackendName,
  opts: Required<Pick<SelectBackendOptions, 'importer' | 'env'>> & Pick<SelectBackendOptions, 'gpuIndex'>,
): Promise<string | undefined> {
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
  return undefined;
}

/**
 * Chooses the fastest working TensorFlow.js backend:
 * 1. 'tensorflow-gpu': `@tensorflow/tfjs-node-gpu` (CUDA_VISIBLE_DEVICES = gpuIndex, when given,
 *    set on `env` before the import);
 * 2. 'tensorflow': `@tensorflow/tfjs-node`;
 * 3. 'wasm': `@tensorflow/tfjs-backend-wasm` (then {@link installWasmConvGradients});
 * 4. 'cpu': the pure-JS backend (always present, far too slow to train).
 * The native packages are optional dependencies: absent, or present without a working binding
 * (libtensorflow download failed), both count as a failed rung, logged with the reason.
 * Idempotent: a second call re-runs the cheap checks and re-selects the same backend.
 *
 * @throws ModelError E_BACKEND_UNAVAILABLE when `force` names a rung that fails, or (never in
 *   practice) when even 'cpu' fails.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const log = opts.log ?? (() => undefined);
  const rungOpts = { importer: opts.importer ?? dynamicImport, env: opts.env ?? process.env, gpuIndex: opts.gpuIndex };
  const rungs = opts.force !== undefined ? [opts.force] : LADDER;
  const attempts: BackendAttempt[] = [];
  for (const name of rungs) {
    const reason = await tryRung(name, rungOpts);
    if (reason !== undefined) {
      attempts.push({ name, ok: false, reason });
      log(`backend ${name} unavailable: ${reason}`);
      continue;
    }
    attempts.push({ name, ok: true });
    if (name === 'wasm') installWasmConvGradients();
    const choice: BackendChoice = { name, tfBackend: tf.getBackend(), device: await describe(name, opts.gpuIndex), attempts };
    log(`backend ${name} selected (tf backend '${choice.tfBackend}', ${choice.device})`);
    return choice;
  }
  const summary = attempts.map((a) => `${a.name}: ${a.reason ?? 'ok'}`).join('; ');
  throw new ModelError(
    'E_BACKEND_UNAVAILABLE',
    opts.force !== undefined ? `forced backend ${opts.force} is unavailable (${summary})` : `no backend works (${summary})`,
  );
}
