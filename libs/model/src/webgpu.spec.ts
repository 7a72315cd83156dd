/**
 * The webgpu rung's adapter choice, against a stub of Dawn's Node bindings that behaves as
 * dawn/node/binding/GPU.cpp does: `adapter=<name>` picks the first adapter whose device name
 * contains <name>, a miss rejects with the "Available adapters:" listing, and no adapter at all
 * resolves null. The stub also plays Mesa's device-select layer: with DRI_PRIME=pci-…! in the
 * environment only that PCI device is enumerated. No GPU and no Vulkan driver are needed here.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { ModelError } from './errors.js';
import { launchGpus } from './gpus.js';
import {
  driPrimeTag,
  isEmulatedAdapterName,
  parseAdapterListing,
  planAdapterSelection,
  readNvidiaPciAddresses,
  startWebgpu,
  stopWebgpu,
  webgpuAdapter,
  type DawnModule,
  type ListedAdapter,
} from './webgpu.js';

interface StubGpu {
  name: string;
  pci: string;
  vendor?: string;
  architecture?: string;
  fallback?: boolean;
}

const H200 = (pci: string): StubGpu => ({ name: 'NVIDIA H200', pci, vendor: 'nvidia', architecture: 'hopper' });
const SWIFTSHADER: StubGpu = { name: 'SwiftShader Device (Subzero)', pci: '0000:00:00.0', vendor: 'google', architecture: 'swiftshader', fallback: true };

/**
 * Dawn's `webgpu` module as a stub; `created` records every create() call's flags, `devices` each
 * device made. `driverFound` says whether the Vulkan loader finds a driver in `env` (default: yes).
 */
function stubDawn(gpus: StubGpu[], env: NodeJS.ProcessEnv, driverFound: (env: NodeJS.ProcessEnv) => boolean = () => true) {
  const created: string[][] = [];
  const devices: Array<{ adapter: string; destroyed: boolean }> = [];
  const visible = (): StubGpu[] => {
    if (!driverFound(env)) return [];
    const prime = env['DRI_PRIME'];
    if (prime === undefined || !prime.endsWith('!')) return gpus;
    // Mesa's tag, written out here rather than with driPrimeTag: "pci-0000_3b_00_0".
    return gpus.filter((g) => `pci-${g.pci.replace(/[:.]/g, '_')}` === prime.slice(0, -1));
  };
  const module: DawnModule = {
    globals: { GPUBufferUsage: { MAP_READ: 1 } },
    create(flags) {
      created.push(flags);
      const list = visible();
      return {
        async requestAdapter() {
          if (list.length === 0) return null;
          const wanted = flags.find((f) => f.startsWith('adapter='))?.slice('adapter='.length);
          const gpu = wanted === undefined ? list[0] : list.find((g) => g.name.includes(wanted));
          if (gpu === undefined) {
            throw new Error(`no suitable backends found\nAvailable adapters:\n${list.map((g) => ` * backend: 'vulkan', name: '${g.name}'`).join('\n')}`);
          }
          return {
            info: { vendor: gpu.vendor ?? '', architecture: gpu.architecture ?? '', device: gpu.name.toLowerCase(), description: `driver at ${gpu.pci}`, isFallbackAdapter: gpu.fallback === true },
            features: new Set<string>(),
            limits: { maxBufferSize: 1 << 30 },
            async requestDevice() {
              const record = { adapter: gpu.pci, destroyed: false };
              devices.push(record);
              return { lost: new Promise<never>(() => undefined), destroy: () => void (record.destroyed = true) };
            },
          };
        },
      };
    },
  };
  return { module, created, devices };
}

/** tfjs-backend-webgpu stand-in: a cpu backend that remembers the device it was given. */
const backendModule = {
  WebGPUBackend: class extends MathBackendCPU {
    constructor(readonly device: unknown, readonly adapterInfo?: object) {
      super();
    }
  },
};

function importerFor(dawn: DawnModule, calls: string[] = []) {
  return async (name: string): Promise<unknown> => {
    calls.push(name);
    if (name === 'webgpu') return dawn;
    if (name === '@tensorflow/tfjs-backend-webgpu') return backendModule;
    throw new Error(`unexpected import ${name}`);
  };
}

const listing = (gpus: StubGpu[]): ListedAdapter[] => gpus.map((g) => ({ backend: 'vulkan', name: g.name }));

afterEach(async () => {
  stopWebgpu();
  await tf.setBackend('cpu');
});

describe('adapter listing and names', () => {
  it("parses Dawn's listing, names with quotes and parentheses included", () => {
    const text = "no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H200'\n * backend: 'vulkan', name: 'SwiftShader Device (Subzero)'\n * backend: 'vulkan', name: 'AMD Radeon RX 7900 XTX (RADV NAVI31)'";
    expect(parseAdapterListing(text)).toEqual([
      { backend: 'vulkan', name: 'NVIDIA H200' },
      { backend: 'vulkan', name: 'SwiftShader Device (Subzero)' },
      { backend: 'vulkan', name: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' },
    ]);
    expect(parseAdapterListing('no adapter found')).toEqual([]);
  });

  it('tells emulated adapters from GPUs by name', () => {
    for (const n of ['SwiftShader Device (Subzero)', 'llvmpipe (LLVM 15.0.6, 256 bits)', 'Microsoft Basic Render Driver']) expect(isEmulatedAdapterName(n)).toBe(true);
    for (const n of ['NVIDIA H200', 'AMD Radeon RX 7900 XTX (RADV NAVI31)', 'Intel(R) Arc(tm) A770 Graphics (DG2)']) expect(isEmulatedAdapterName(n)).toBe(false);
  });

  it('reads NVIDIA PCI addresses in bus order and turns them into DRI_PRIME tags', () => {
    expect(readNvidiaPciAddresses(() => ['0000:5e:00.0', '0000:18:00.0', 'README'])).toEqual(['0000:18:00.0', '0000:5e:00.0']);
    expect(readNvidiaPciAddresses(() => { throw new Error('ENOENT'); })).toEqual([]);
    expect(driPrimeTag('0000:3B:00.0')).toBe('pci-0000_3b_00_0');
    expect(driPrimeTag('10000:01:00.0')).toBe('pci-10000_01_00_0'); // a VMD domain, printed whole as %04x does
    expect(() => driPrimeTag('3b:00')).toThrow(/not a PCI address/);
  });
});

describe('planAdapterSelection', () => {
  const mixed = listing([H200('0000:18:00.0'), { name: 'NVIDIA L4', pci: '0000:5e:00.0' }, SWIFTSHADER]);

  it('selects a uniquely named adapter with the adapter= flag alone', () => {
    expect(planAdapterSelection(mixed, 1, { allowEmulated: false })).toEqual({ index: 1, name: 'NVIDIA L4', flags: ['adapter=NVIDIA L4'], env: {}, expectSingle: false });
    expect(planAdapterSelection(mixed, undefined, { allowEmulated: false }).name).toBe('NVIDIA H200');
  });

  it('counts emulated adapters only when allowed and there is no GPU', () => {
    expect(() => planAdapterSelection(mixed, 2, { allowEmulated: false })).toThrow(/GPU 2 requested but 2 usable/);
    const onlySoft = listing([SWIFTSHADER]);
    expect(planAdapterSelection(onlySoft, 0, { allowEmulated: true }).name).toBe('SwiftShader Device (Subzero)');
    expect(() => planAdapterSelection(onlySoft, 0, { allowEmulated: false })).toThrow(/only emulated WebGPU adapters \('SwiftShader Device \(Subzero\)'\)/);
    expect(() => planAdapterSelection([], 0, { allowEmulated: true })).toThrow(/no WebGPU adapter/);
  });

  it('tells identical GPUs apart by PCI address through DRI_PRIME, and refuses when it cannot', () => {
    const four = listing(['0000:18:00.0', '0000:2a:00.0', '0000:3b:00.0', '0000:5d:00.0'].map(H200));
    const pci = ['0000:18:00.0', '0000:2a:00.0', '0000:3b:00.0', '0000:5d:00.0'];
    expect(planAdapterSelection(four, 0, { allowEmulated: false, pciAddresses: pci })).toMatchObject({ env: { DRI_PRIME: 'pci-0000_18_00_0!' }, expectSingle: true, firstOfTwins: true });
    // Without PCI addresses the first copy is still reachable by name, the others are not.
    expect(planAdapterSelection(four, 0, { allowEmulated: false })).toMatchObject({ env: {}, expectSingle: false });
    expect(planAdapterSelection(four, 2, { allowEmulated: false, pciAddresses: pci })).toEqual({
      index: 2, name: 'NVIDIA H200', flags: ['adapter=NVIDIA H200'], env: { DRI_PRIME: 'pci-0000_3b_00_0!' }, expectSingle: true, firstOfTwins: false,
    });
    const err = (() => {
      try {
        planAdapterSelection(four, 3, { allowEmulated: false, pciAddresses: pci.slice(0, 2) });
      } catch (e) {
        return e as ModelError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('E_BACKEND_UNAVAILABLE');
    expect(err?.message).toMatch(/GPU 3 \('NVIDIA H200', adapter 3 of .*first adapter whose name contains it, adapter 0.*2 NVIDIA PCI address.*4 identical.*Slurm --gres/);
  });

  it("refuses an adapter whose name is inside an earlier one's (Dawn matches by substring)", () => {
    const cards = listing([{ name: 'NVIDIA GeForce RTX 3080 Ti', pci: '' }, { name: 'NVIDIA GeForce RTX 3080', pci: '' }]);
    expect(planAdapterSelection(cards, 0, { allowEmulated: false }).flags).toEqual(['adapter=NVIDIA GeForce RTX 3080 Ti']);
    expect(() => planAdapterSelection(cards, 1, { allowEmulated: false })).toThrow(/GPU 1 \('NVIDIA GeForce RTX 3080', adapter 1 .*adapter 0/);
  });

  it('uses an emulated adapter only where there is no GPU, even when allowed', () => {
    expect(() => planAdapterSelection(mixed, 2, { allowEmulated: true })).toThrow(/GPU 2 requested but 2 usable/);
  });
});

describe('startWebgpu with a stub Dawn', () => {
  it('GPU i of distinct GPUs: create() gets adapter=<name of the i-th>, the backend gets that device', async () => {
    const env: NodeJS.ProcessEnv = {};
    const dawn = stubDawn([H200('0000:18:00.0'), { name: 'NVIDIA L4', pci: '0000:5e:00.0', vendor: 'nvidia', architecture: 'ada' }], env);
    const calls: string[] = [];
    const info = await startWebgpu({ allowEmulated: false, gpuIndex: 1, importer: importerFor(dawn.module, calls), env, pciAddresses: () => [], probe: async () => ({ adapters: listing([H200('x'), { name: 'NVIDIA L4', pci: 'y' }]) }) });
    expect(info).toEqual({ vendor: 'nvidia', architecture: 'ada', device: 'NVIDIA L4', driver: 'driver at 0000:5e:00.0', emulated: false, index: 1 });
    expect(dawn.created.at(-1)).toEqual(['adapter=NVIDIA L4']);
    expect(dawn.devices).toEqual([{ adapter: '0000:5e:00.0', destroyed: false }]);
    expect(calls).toEqual(['webgpu', '@tensorflow/tfjs-backend-webgpu']);
    expect(tf.getBackend()).toBe('webgpu');
    expect((tf.backend() as unknown as { device: unknown }).device).toBeDefined();
    expect(webgpuAdapter()).toEqual(info);
    expect((globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage).toEqual({ MAP_READ: 1 });
    expect(env).toEqual({});
    stopWebgpu();
    expect(dawn.devices[0]?.destroyed).toBe(true);
    expect(webgpuAdapter()).toBeNull();
    expect(tf.findBackend('webgpu')).toBeNull();
  });

  it('GPU 2 of four identical GPUs: DRI_PRIME names its PCI address, and the device is made on that one', async () => {
    const pci = ['0000:18:00.0', '0000:2a:00.0', '0000:3b:00.0', '0000:5d:00.0'];
    const env: NodeJS.ProcessEnv = {};
    const dawn = stubDawn(pci.map(H200), env);
    const logs: string[] = [];
    const info = await startWebgpu({ allowEmulated: false, gpuIndex: 2, importer: importerFor(dawn.module), env, pciAddresses: () => pci, probe: async () => ({ adapters: listing(pci.map(H200)) }), log: (m) => logs.push(m) });
    expect(dawn.devices).toEqual([{ adapter: '0000:3b:00.0', destroyed: false }]);
    // Set only while Dawn made its instance: a later listing or a child process sees every GPU.
    expect(env['DRI_PRIME']).toBeUndefined();
    stopWebgpu();
    // Copy 0 goes through DRI_PRIME too, so that no two workers can land on one GPU.
    await startWebgpu({ allowEmulated: false, gpuIndex: 0, importer: importerFor(dawn.module), env, pciAddresses: () => pci, probe: async () => ({ adapters: listing(pci.map(H200)) }) });
    expect(dawn.devices[1]).toEqual({ adapter: '0000:18:00.0', destroyed: false });
    expect(info).toMatchObject({ index: 2, device: 'NVIDIA H200', driver: 'driver at 0000:3b:00.0' });
    expect(logs[0]).toBe('WebGPU adapters: 0: NVIDIA H200 (vulkan); 1: NVIDIA H200 (vulkan); 2: NVIDIA H200 (vulkan); 3: NVIDIA H200 (vulkan)');
  });

  it('without the device-select layer: the second of identical GPUs is refused, the first taken by name with a warning', async () => {
    const pci = ['0000:18:00.0', '0000:2a:00.0'];
    const env: NodeJS.ProcessEnv = {};
    const dawn = stubDawn(pci.map(H200), {}); // the layer is absent: DRI_PRIME changes nothing
    const options = { allowEmulated: false, importer: importerFor(dawn.module), env, pciAddresses: () => pci, probe: async () => ({ adapters: listing(pci.map(H200)) }) };
    await expect(startWebgpu({ ...options, gpuIndex: 1 }))
      .rejects.toThrow(/did not single it out .*DRI_PRIME=pci-0000_2a_00_0!; 2 adapters still listed.*mesa-vulkan-drivers/);
    expect(dawn.devices).toEqual([]);
    const logs: string[] = [];
    const info = await startWebgpu({ ...options, log: (m) => logs.push(m) }); // no --gpu: GPU 0, as the GPU check's workers
    expect(info.index).toBe(0);
    expect(dawn.devices).toEqual([{ adapter: '0000:18:00.0', destroyed: false }]);
    expect(logs.some((l) => /did not act on DRI_PRIME=pci-0000_18_00_0!: taking the first 'NVIDIA H200' by name/.test(l))).toBe(true);
  });

  it('automatic choice on a machine with only SwiftShader: the probe stops it before Dawn is loaded', async () => {
    const dawn = stubDawn([SWIFTSHADER], {});
    const calls: string[] = [];
    await expect(startWebgpu({ allowEmulated: false, importer: importerFor(dawn.module, calls), probe: async () => ({ adapters: listing([SWIFTSHADER]) }) }))
      .rejects.toThrow(/only emulated WebGPU adapters/);
    expect(calls).toEqual([]);
  });

  it('a forced rung takes the emulated adapter and says so; a fallback adapter is emulated whatever its name', async () => {
    const dawn = stubDawn([SWIFTSHADER], {});
    const info = await startWebgpu({ allowEmulated: true, importer: importerFor(dawn.module), pciAddresses: () => [] });
    expect(info).toEqual({ vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device (Subzero)', driver: 'driver at 0000:00:00.0', emulated: true, index: 0 });
    stopWebgpu();
    const odd = stubDawn([{ name: 'Virtual GPU', pci: '0000:01:00.0', fallback: true }], {});
    await expect(startWebgpu({ allowEmulated: false, importer: importerFor(odd.module), pciAddresses: () => [], probe: async () => ({ adapters: listing([{ name: 'Virtual GPU', pci: '' }]) }) }))
      .rejects.toThrow(/'Virtual GPU' is emulated on the CPU/);
  });

  it('a forced rung with no Vulkan adapter at all falls back to SwiftShader when its driver file exists', async () => {
    const env: NodeJS.ProcessEnv = {};
    const icd = fileURLToPath(import.meta.url); // any existing file stands for the driver's JSON
    const dawn = stubDawn([SWIFTSHADER], env, (e) => e['VK_ICD_FILENAMES'] === icd);
    const logs: string[] = [];
    const info = await startWebgpu({ allowEmulated: true, importer: importerFor(dawn.module), env, pciAddresses: () => [], swiftShaderIcd: icd, log: (m) => logs.push(m) });
    expect(info.device).toBe('SwiftShader Device (Subzero)');
    expect(env['VK_ICD_FILENAMES']).toBe(icd);
    expect(env['XDG_RUNTIME_DIR']).toBeDefined();
    expect(logs.some((l) => l.includes('falls back to SwiftShader'))).toBe(true);
    stopWebgpu();
    // Not without the file, not when a driver is chosen already, never for automatic choice.
    const none = stubDawn([SWIFTSHADER], {}, () => false);
    await expect(startWebgpu({ allowEmulated: true, importer: importerFor(none.module), env: {}, swiftShaderIcd: '/nonexistent/icd.json' }))
      .rejects.toThrow(/no WebGPU adapter \(no Vulkan driver found/);
    await expect(startWebgpu({ allowEmulated: true, importer: importerFor(none.module), env: { VK_ICD_FILENAMES: '/x.json' }, swiftShaderIcd: icd }))
      .rejects.toThrow(/no WebGPU adapter/);
  });

  it("automatic choice names why Dawn could not be asked, instead of 'no Vulkan driver'", async () => {
    const problem = "listing Dawn's adapters failed (exit 1): Error: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found";
    await expect(startWebgpu({ allowEmulated: false, importer: async () => ({}), probe: async () => ({ adapters: [], problem }) }))
      .rejects.toThrow(/GLIBC_2\.34' not found/);
  });

  it('a backend that fails to start leaves no device, no navigator.gpu and no webgpu factory behind', async () => {
    const dawn = stubDawn([H200('0000:18:00.0')], {});
    const failing = async (name: string): Promise<unknown> => {
      if (name === 'webgpu') return dawn.module;
      return { WebGPUBackend: class { constructor() { throw new Error('WGSL compiler missing'); } } };
    };
    await expect(startWebgpu({ allowEmulated: true, importer: failing, pciAddresses: () => [] })).rejects.toThrow(/failed to start: WGSL compiler missing/);
    expect(dawn.devices).toEqual([{ adapter: '0000:18:00.0', destroyed: true }]);
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
    expect(tf.findBackendFactory('webgpu')).toBeNull();
    expect(webgpuAdapter()).toBeNull();
  });

  it('names a missing webgpu package', async () => {
    await expect(startWebgpu({ allowEmulated: true, importer: async () => { throw new Error("Cannot find package 'webgpu'"); } }))
      .rejects.toThrow(/import\('webgpu'\) failed .*optional dependency.*Cannot find package 'webgpu'/);
  });
});

describe('the ladder and the launcher with webgpu', () => {
  it('automatic choice skips an emulated-only webgpu rung and trains on wasm', async () => {
    const logs: string[] = [];
    const choice = await selectBackend({
      importer: async (name) => {
        if (name.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find package '${name}'`);
        if (name === 'webgpu') throw new Error('Dawn must not be loaded in-process');
        return import(name);
      },
      webgpuProbe: async () => ({ adapters: listing([SWIFTSHADER]) }),
      env: {},
      log: (m) => logs.push(m),
    });
    expect(choice.name).toBe('wasm');
    expect(choice.attempts.map((a) => [a.name, a.ok])).toEqual([['tensorflow-gpu', false], ['webgpu', false], ['tensorflow', false], ['wasm', true]]);
    expect(choice.attempts[1]?.reason).toMatch(/only emulated WebGPU adapters/);
  });

  it('a forced webgpu rung reports its adapter in the choice', async () => {
    const dawn = stubDawn([H200('0000:18:00.0')], {});
    const choice = await selectBackend({ force: 'webgpu', importer: importerFor(dawn.module), pciAddresses: () => [], env: {} });
    expect(choice).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu', device: 'NVIDIA H200', adapter: { device: 'NVIDIA H200', index: 0 } });
  });

  it('the launcher starts one worker per GPU of the chosen backend', async () => {
    const probes = (nodeGpu: boolean, smi: number, hardware: number, emulated: number) => ({
      tfjsNodeGpuInstalled: () => nodeGpu,
      countGpus: () => smi,
      countWebgpuAdapters: async () => ({ hardware, emulated }),
    });
    // tfjs-node-gpu absent: Dawn's 8 GPUs, and the workers are told to use webgpu
    expect(await launchGpus(undefined, probes(false, 8, 8, 1))).toEqual({ gpus: 8, backend: 'webgpu' });
    expect(await launchGpus(undefined, probes(true, 4, 8, 0))).toEqual({ gpus: 4, backend: 'tensorflow-gpu' }); // tfjs-node-gpu first
    expect(await launchGpus(undefined, probes(false, 0, 0, 1))).toEqual({ gpus: 0 }); // SwiftShader only: cores, any rung
    expect(await launchGpus('webgpu', probes(false, 0, 0, 1))).toEqual({ gpus: 1, backend: 'webgpu' }); // forced: the emulated adapter
    expect(await launchGpus('webgpu', probes(true, 2, 3, 1))).toEqual({ gpus: 3, backend: 'webgpu' });
    expect(await launchGpus('tensorflow-gpu', probes(false, 2, 3, 0))).toEqual({ gpus: 0 });
    expect(await launchGpus('wasm', probes(true, 2, 3, 0))).toEqual({ gpus: 0 });
  });
});
