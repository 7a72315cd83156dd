/**
 * The 'webgpu' rung of the backend ladder: TensorFlow.js' WebGPU backend on Dawn's Node.js
 * bindings (npm `webgpu`, binary inside the package), which on Linux drive the GPU through Vulkan.
 *
 * Adapter choice. Dawn's `requestAdapter()` returns one adapter, and the only per-adapter choice
 * its Node bindings offer is the `adapter=<name>` flag of `create()`: the first adapter, in Dawn's
 * enumeration order, whose device name contains <name> (dawn src/dawn/node/binding/GPU.cpp). When
 * no adapter matches, the rejection lists every adapter ("Available adapters: * backend: 'vulkan',
 * name: '…'"): that listing is how the adapters are counted and indexed here. GPU i is the i-th
 * usable adapter of that listing; a unique name is selected with the flag. Identical GPUs (eight
 * H200s) share one name, so the flag reaches only the first: for the k-th of them, Mesa's Vulkan
 * device-select layer (package mesa-vulkan-drivers) is told the GPU's PCI address through
 * `DRI_PRIME=pci-DDDD_BB_DD_F!`, which leaves that one device visible, and the listing is taken
 * again to check it worked. CUDA_VISIBLE_DEVICES does not affect Vulkan.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ModelError, reasonOf } from './errors.js';

/** An adapter as Dawn lists it. */
export interface ListedAdapter {
  /** Dawn backend, 'vulkan' on Linux. */
  backend: string;
  /** Device name, e.g. 'NVIDIA H200' or 'SwiftShader Device (Subzero)'. */
  name: string;
}

/** The adapter a worker computes on: WebGPU's GPUAdapterInfo plus what the selection learnt. */
export interface GpuAdapterInfo {
  /** e.g. 'nvidia', 'google'. */
  vendor: string;
  /** e.g. 'hopper', 'swiftshader'. */
  architecture: string;
  /** Dawn's device name as listed, e.g. 'NVIDIA H200'. */
  device: string;
  /** Driver description, e.g. 'NVIDIA 570.86.15', 'SwiftShader driver 5.0.0'. */
  driver: string;
  /** A GPU emulated on the CPU (SwiftShader, llvmpipe/lavapipe, WARP): correct but slow. */
  emulated: boolean;
  /** Position of this adapter in Dawn's listing (the `--gpu` index counts usable adapters). */
  index: number;
}

/**
 * A GPU adapter's details for logs and reports: ", adapter 0: nvidia hopper, driver 'NVIDIA
 * 570.86.15'"; '' without an adapter (CPU backends). The device name is in the device string.
 */
export function formatAdapter(a: Pick<GpuAdapterInfo, 'vendor' | 'architecture' | 'driver' | 'index'> | undefined): string {
  if (a === undefined) return '';
  const kind = [a.vendor, a.architecture].filter((s) => s !== '').join(' ');
  return `, adapter ${a.index}: ${kind ? `${kind}, ` : ''}driver '${a.driver}'`;
}

/** Names of software rasterisers that present themselves as Vulkan devices. */
const EMULATED_NAME = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/i;

/** True for an adapter name that is a GPU emulated on the CPU. */
export function isEmulatedAdapterName(name: string): boolean {
  return EMULATED_NAME.test(name);
}

/**
 * Parses the adapter listing in Dawn's requestAdapter rejection:
 * `Available adapters:\n * backend: 'vulkan', name: 'NVIDIA H200'\n …`, in Dawn's order.
 */
export function parseAdapterListing(text: string): ListedAdapter[] {
  const out: ListedAdapter[] = [];
  for (const m of text.matchAll(/^ \* backend: '([^']*)', name: '(.*)'$/gm)) out.push({ backend: m[1] ?? '', name: m[2] ?? '' });
  return out;
}

/** How to reach one adapter: the flags for Dawn's `create()` and the environment to set first. */
export interface AdapterPlan {
  /** Position in Dawn's listing. */
  index: number;
  name: string;
  flags: string[];
  /** Set before `create()`: the Vulkan instance reads it. */
  env: Record<string, string>;
  /** After the plan, the listing must hold only this adapter (the device-select layer is active). */
  expectSingle: boolean;
  /**
   * The first of identical GPUs: where the device-select layer does not act, the name still
   * reaches it (the first in Vulkan's order), so it is taken with a warning instead of refused.
   */
  firstOfTwins?: boolean;
}

/** Options of {@link planAdapterSelection}. */
export interface PlanOptions {
  /** Use emulated adapters when there is no hardware one (forced `--backend webgpu`). */
  allowEmulated: boolean;
  /**
   * PCI addresses of the machine's NVIDIA GPUs, `DDDD:BB:DD.F`, in bus order (the Vulkan loader's
   * order on Linux); used only to tell identical GPUs apart.
   */
  pciAddresses?: readonly string[];
}

/**
 * Chooses adapter `gpuIndex` (default 0) among the usable adapters of `listed`: the hardware
 * adapters in listing order; only where there is none and `allowEmulated`, the emulated ones.
 * Dawn's `adapter=<name>` takes the first adapter whose name *contains* <name>, so the flag alone
 * reaches an adapter only when no earlier one's name contains its name. Identical GPUs (the same
 * name, as many as the NVIDIA driver lists PCI addresses) are all reached through DRI_PRIME with
 * their own PCI address, copy 0 included, so that two workers never share one.
 *
 * @throws ModelError E_BACKEND_UNAVAILABLE with the listing when there is no such adapter, or
 *   when an earlier adapter's name contains its name and no PCI address tells them apart.
 */
export function planAdapterSelection(listed: readonly ListedAdapter[], gpuIndex: number | undefined, opts: PlanOptions): AdapterPlan {
  const shown = listed.map((a) => `'${a.name}'`).join(', ') || 'none';
  const indexed = listed.map((a, index) => ({ ...a, index }));
  const hardware = indexed.filter((a) => !isEmulatedAdapterName(a.name));
  const usable = hardware.length > 0 ? hardware : opts.allowEmulated ? indexed : [];
  const i = gpuIndex ?? 0;
  if (!Number.isInteger(i) || i < 0) throw new ModelError('E_BACKEND_UNAVAILABLE', `GPU index must be a non-negative integer, got ${gpuIndex}`);
  if (usable.length === 0) {
    throw new ModelError(
      'E_BACKEND_UNAVAILABLE',
      listed.length === 0
        ? 'no WebGPU adapter (no Vulkan driver found: install the GPU vendor\'s Vulkan driver and libvulkan1)'
        : `only emulated WebGPU adapters (${shown}): a GPU emulated on the CPU is slower than wasm, so automatic choice skips it; --backend webgpu uses it`,
    );
  }
  const chosen = usable[i];
  if (chosen === undefined) {
    throw new ModelError('E_BACKEND_UNAVAILABLE', `GPU ${i} requested but ${usable.length} usable WebGPU adapter(s): ${usable.map((a) => `'${a.name}'`).join(', ')}`);
  }
  const base = { index: chosen.index, name: chosen.name, flags: [`adapter=${chosen.name}`] };
  const twins = indexed.filter((a) => a.name === chosen.name);
  const pci = opts.pciAddresses ?? [];
  if (twins.length > 1 && twins.length === pci.length) {
    const occurrence = twins.findIndex((a) => a.index === chosen.index);
    return { ...base, env: { DRI_PRIME: `${driPrimeTag(pci[occurrence] as string)}!` }, expectSingle: true, firstOfTwins: occurrence === 0 };
  }
  const firstMatch = indexed.find((a) => a.name.includes(chosen.name));
  if (firstMatch?.index === chosen.index) return { ...base, env: {}, expectSingle: false };
  throw new ModelError(
    'E_BACKEND_UNAVAILABLE',
    `GPU ${i} ('${chosen.name}', adapter ${chosen.index} of ${shown}) cannot be selected: Dawn selects by name and takes the first ` +
      `adapter whose name contains it, adapter ${firstMatch?.index}, and the ${pci.length} NVIDIA PCI address(es) found do not tell ` +
      `${twins.length} identical adapters apart; give each worker its own GPU through the scheduler or container instead (Slurm --gres, NVIDIA_VISIBLE_DEVICES)`,
  );
}

/** `0000:3b:00.0` → `pci-0000_3b_00_0`, the tag Mesa's device-select layer matches (its domain printed as %04x). */
export function driPrimeTag(pciAddress: string): string {
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(pciAddress);
  if (m === null) throw new ModelError('E_BACKEND_UNAVAILABLE', `not a PCI address: '${pciAddress}'`);
  const [, domain, bus, dev, fn] = m as unknown as [string, string, string, string, string];
  return `pci-${Number.parseInt(domain, 16).toString(16).padStart(4, '0')}_${bus.toLowerCase()}_${dev.toLowerCase()}_${fn}`;
}

/** The part of Dawn's GPUAdapter this module reads. */
export interface DawnAdapter {
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  features: ReadonlySet<string>;
  limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<DawnDevice>;
}

/** The part of GPUDevice this module uses (the rest is tfjs-backend-webgpu's business). */
export interface DawnDevice {
  lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}

/** The `webgpu` package's exports (tests pass a stub). */
export interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: object): Promise<DawnAdapter | null> };
  globals: object;
}

/** Flag that matches no adapter, so that Dawn rejects with its listing. */
const LIST_FLAG = 'adapter=cifar-dist: list adapters';

/**
 * Dawn's adapters, in its order, by asking for one no device is named after.
 *
 * @throws when Dawn rejects for another reason (its message is kept).
 */
export async function listAdapters(dawn: DawnModule): Promise<ListedAdapter[]> {
  try {
    const adapter = await dawn.create([LIST_FLAG]).requestAdapter();
    // Dawn resolves null (before looking at names) when it finds no adapter at all.
    if (adapter === null || adapter === undefined) return [];
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (text.includes('Available adapters:')) return parseAdapterListing(text);
    throw err;
  }
  return [];
}

/** What {@link probeAdapters} found: Dawn's adapters, and why the list may be wrong when it could not ask. */
export interface AdapterProbe {
  adapters: ListedAdapter[];
  /** Set when Dawn could not be asked (package missing, dawn.node failing to load, timeout). */
  problem?: string;
}

/**
 * {@link listAdapters} in a child process: Dawn is loaded there, not here, so that automatic
 * backend choice on a machine without a usable GPU neither prints Dawn's driver warnings
 * ("Vulkan shaderUniform*ArrayDynamicIndexing required" for Mesa's lavapipe) nor risks a driver
 * crash in this process. The child inherits this process's environment (VK_ICD_FILENAMES, …).
 *
 * @param timeoutMs give up after this long; a hung Vulkan driver must not hang a worker.
 */
export async function probeAdapters(timeoutMs = 30_000): Promise<AdapterProbe> {
  let url: string;
  try {
    url = import.meta.resolve('webgpu');
  } catch (err) {
    return { adapters: [], problem: `the optional package 'webgpu' (Dawn) is not installed: ${reasonOf(err)}` };
  }
  const script = `
    const { create } = await import(${JSON.stringify(url)});
    let text = '';
    try { await create([${JSON.stringify(LIST_FLAG)}]).requestAdapter(); } catch (e) { text = String(e?.message ?? e); }
    process.stdout.write(JSON.stringify(text));
    process.exit(0);`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const tail = stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).join(' | ');
      if (err) {
        const why = err.killed ? `no answer within ${timeoutMs} ms` : `exit ${err.code ?? err.signal}`;
        return resolve({ adapters: [], problem: `listing Dawn's adapters failed (${why})${tail ? `: ${tail}` : ''}` });
      }
      try {
        const text = JSON.parse(stdout) as string;
        const adapters = parseAdapterListing(text);
        resolve(adapters.length > 0 || text === '' ? { adapters } : { adapters, problem: `Dawn: ${reasonOf(text)}` });
      } catch {
        resolve({ adapters: [], problem: `listing Dawn's adapters printed no listing${tail ? `: ${tail}` : ''}` });
      }
    });
  });
}

/** Where the NVIDIA driver lists its GPUs, one folder per PCI address. */
export const NVIDIA_PROC_GPUS = '/proc/driver/nvidia/gpus';

/** Options of {@link startWebgpu}. */
export interface StartWebgpuOptions {
  /** Accept emulated adapters (a forced rung); automatic choice takes only hardware adapters. */
  allowEmulated: boolean;
  /** The `--gpu` index among usable adapters (default 0). */
  gpuIndex?: number;
  /** Loads `webgpu` and `@tensorflow/tfjs-backend-webgpu` (tests inject stubs). */
  importer: (name: string) => Promise<unknown>;
  /** Environment the selection writes to (DRI_PRIME); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** NVIDIA PCI addresses in bus order; default: read from {@link NVIDIA_PROC_GPUS}. */
  pciAddresses?: () => string[];
  /**
   * Automatic choice only: lists the adapters before Dawn is loaded here, and the rung fails at
   * once when none is a GPU (default {@link probeAdapters}, in a child process).
   */
  probe?: () => Promise<AdapterProbe>;
  /**
   * A forced rung that finds no Vulkan adapter at all falls back to this SwiftShader driver when
   * the file exists (default {@link SWIFTSHADER_ICD}, from Debian's chromium); tests pass another.
   */
  swiftShaderIcd?: string;
  log?: (msg: string) => void;
}

/** The active WebGPU backend's adapter and device, kept for {@link stopWebgpu}. */
let active: { device: DawnDevice; adapter: GpuAdapterInfo } | null = null;

/** The adapter of the active webgpu backend, or null when it is not active. */
export function webgpuAdapter(): GpuAdapterInfo | null {
  return active?.adapter ?? null;
}

/** The WebGPU limits tfjs-backend-webgpu raises to the adapter's maximum (as its own registration does). */
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

interface WebgpuBackendModule {
  WebGPUBackend: new (device: DawnDevice, adapterInfo?: object) => tf.KernelBackend;
}

/**
 * Chooses an adapter (see the module comment), creates its device and registers and activates
 * tfjs' 'webgpu' backend on it. `navigator.gpu` is defined (tfjs-backend-webgpu checks for it) and
 * WebGPU's globals (GPUBufferUsage, …) are installed on globalThis.
 *
 * @returns the adapter chosen.
 * @throws ModelError E_BACKEND_UNAVAILABLE naming the cause: the package absent, no adapter, only
 *   emulated ones when they are not allowed, a GPU index out of range, an adapter that cannot be
 *   told apart, or a device that cannot be created.
 */
export async function startWebgpu(opts: StartWebgpuOptions): Promise<GpuAdapterInfo> {
  const log = opts.log ?? (() => undefined);
  const env = opts.env ?? process.env;
  stopWebgpu();
  if (!opts.allowEmulated) {
    const probed = await (opts.probe ?? probeAdapters)();
    if (probed.problem !== undefined) throw new ModelError('E_BACKEND_UNAVAILABLE', probed.problem);
    if (!probed.adapters.some((a) => !isEmulatedAdapterName(a.name))) planAdapterSelection(probed.adapters, opts.gpuIndex, { allowEmulated: false });
  }
  let dawn: DawnModule;
  try {
    dawn = (await opts.importer('webgpu')) as DawnModule;
  } catch (err) {
    throw new ModelError('E_BACKEND_UNAVAILABLE', `import('webgpu') failed (Dawn's Node.js bindings, an optional dependency): ${reasonOf(err)}`);
  }
  Object.assign(globalThis, dawn.globals);
  let listed = await listAdapters(dawn);
  const icd = opts.swiftShaderIcd ?? SWIFTSHADER_ICD;
  if (listed.length === 0 && opts.allowEmulated && env['VK_ICD_FILENAMES'] === undefined && env['VK_DRIVER_FILES'] === undefined && existsSync(icd)) {
    // The Vulkan loader reads the variable at each instance creation, so setting it now works.
    Object.assign(env, swiftShaderEnv(env, icd));
    log(`no Vulkan adapter: --backend webgpu falls back to SwiftShader (${icd}), a GPU emulated on the CPU, for testing`);
    listed = await listAdapters(dawn);
  }
  log(`WebGPU adapters: ${listed.map((a, i) => `${i}: ${a.name} (${a.backend})`).join('; ') || 'none'}`);
  const plan = planAdapterSelection(listed, opts.gpuIndex, {
    allowEmulated: opts.allowEmulated,
    pciAddresses: (opts.pciAddresses ?? readNvidiaPciAddresses)(),
  });
  // DRI_PRIME is read when Dawn creates its Vulkan instance, in create(): set only around it, so
  // that neither a later listing in this process nor a child process inherits it.
  const saved = Object.fromEntries(Object.keys(plan.env).map((k) => [k, env[k]]));
  Object.assign(env, plan.env);
  let gpu: ReturnType<DawnModule['create']>;
  let adapter: DawnAdapter | null;
  try {
    if (plan.expectSingle) {
      const seen = await listAdapters(dawn);
      if (seen.length !== 1 && plan.firstOfTwins === true) {
        log(`Mesa's Vulkan device-select layer did not act on ${Object.entries(plan.env).map(([k, v]) => `${k}=${v}`).join(' ')}: taking the first '${plan.name}' by name (GPUs 1 and up of this kind cannot be selected so)`);
      } else if (seen.length !== 1) {
        throw new ModelError(
          'E_BACKEND_UNAVAILABLE',
          `GPU ${opts.gpuIndex ?? 0} is one of several '${plan.name}' and Mesa's Vulkan device-select layer did not single it out ` +
            `(${Object.entries(plan.env).map(([k, v]) => `${k}=${v}`).join(' ')}; ${seen.length} adapters still listed): install mesa-vulkan-drivers ` +
            '(the layer honours DRI_PRIME=pci-…! from Mesa 23.3), or give each worker its own GPU through the scheduler or container',
        );
      }
    }
    gpu = dawn.create(plan.flags);
    adapter = await gpu.requestAdapter();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  }
  if (adapter === null || adapter === undefined) throw new ModelError('E_BACKEND_UNAVAILABLE', `Dawn returned no adapter for ${plan.flags.join(' ')}`);
  const info: GpuAdapterInfo = {
    vendor: adapter.info.vendor,
    architecture: adapter.info.architecture,
    device: plan.name,
    driver: adapter.info.description,
    emulated: adapter.info.isFallbackAdapter === true || isEmulatedAdapterName(`${plan.name} ${adapter.info.architecture}`),
    index: plan.index,
  };
  if (info.emulated && !opts.allowEmulated) {
    throw new ModelError('E_BACKEND_UNAVAILABLE', `adapter '${plan.name}' is emulated on the CPU (a fallback adapter); --backend webgpu uses it`);
  }
  let backendModule: WebgpuBackendModule;
  try {
    backendModule = (await opts.importer('@tensorflow/tfjs-backend-webgpu')) as WebgpuBackendModule;
  } catch (err) {
    throw new ModelError('E_BACKEND_UNAVAILABLE', `import('@tensorflow/tfjs-backend-webgpu') failed: ${reasonOf(err)}`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) if (typeof adapter.limits[k] === 'number') requiredLimits[k] = adapter.limits[k];
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  let device: DawnDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (err) {
    throw new ModelError('E_BACKEND_UNAVAILABLE', `requestDevice on '${plan.name}' failed: ${reasonOf(err)}`);
  }
  try {
    // tfjs-backend-webgpu's constructor checks navigator.gpu (Node 20 has no navigator; Node 21+
    // has a read-only one, so define the property rather than assign it).
    defineNavigatorGpu(gpu);
    const backend = new backendModule.WebGPUBackend(device, adapter.info);
    // Replaces any 'webgpu' factory (the package registers its own, on the default adapter, when
    // imported while navigator.gpu exists).
    if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
    if (!tf.registerBackend('webgpu', () => backend, 3)) throw new ModelError('E_BACKEND_UNAVAILABLE', "tf.registerBackend('webgpu') refused the backend");
    if (!(await tf.setBackend('webgpu'))) throw new ModelError('E_BACKEND_UNAVAILABLE', "tf.setBackend('webgpu') returned false");
  } catch (err) {
    if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
    device.destroy();
    undefineNavigatorGpu();
    throw err instanceof ModelError ? err : new ModelError('E_BACKEND_UNAVAILABLE', `the WebGPU backend on '${plan.name}' failed to start: ${reasonOf(err)}`);
  }
  void device.lost.then((lost) => {
    if (active?.device === device && lost.reason !== 'destroyed') log(`WebGPU device '${plan.name}' lost (${lost.reason}): ${lost.message}`);
  });
  active = { device, adapter: info };
  return info;
}

/**
 * Releases the GPU: removes tfjs' 'webgpu' backend, destroys the device and drops `navigator.gpu`
 * (Dawn keeps the process alive while its GPU object is referenced). No-op when inactive.
 */
export function stopWebgpu(): void {
  if (active === null) return;
  const { device } = active;
  active = null;
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  device.destroy();
  undefineNavigatorGpu();
}

function undefineNavigatorGpu(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav !== undefined && Object.getOwnPropertyDescriptor(nav, 'gpu')?.configurable) delete nav.gpu;
}

function defineNavigatorGpu(gpu: unknown): void {
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator as object, 'gpu', { value: gpu, configurable: true, writable: true });
}

/** PCI addresses under {@link NVIDIA_PROC_GPUS}, sorted (bus order); [] without the driver. */
export function readNvidiaPciAddresses(readdir: (dir: string) => string[] = (d) => readdirSync(d)): string[] {
  try {
    return readdir(NVIDIA_PROC_GPUS)
      .filter((d) => /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(d))
      .sort();
  } catch {
    return [];
  }
}

/** SwiftShader's Vulkan driver as Debian's `chromium` package ships it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * The environment under which Dawn finds a GPU emulated on the CPU on a machine without one:
 * VK_ICD_FILENAMES pointing at {@link SWIFTSHADER_ICD} (when that file exists and no driver is
 * chosen already) and XDG_RUNTIME_DIR (Dawn's Vulkan loader wants one). For tests and CI: the
 * webgpu backend's correctness checks run there; automatic choice still skips that adapter.
 *
 * @returns a copy of `env` with those two set where they were missing.
 */
export function swiftShaderEnv(env: NodeJS.ProcessEnv = process.env, icd = SWIFTSHADER_ICD): NodeJS.ProcessEnv {
  const out = { ...env };
  if (out['VK_ICD_FILENAMES'] === undefined && out['VK_DRIVER_FILES'] === undefined && existsSync(icd)) out['VK_ICD_FILENAMES'] = icd;
  out['XDG_RUNTIME_DIR'] ??= tmpdir();
  return out;
}
