import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, type BackendChoice } from './backend.js';
import type { AdapterProbe } from './webgpu.js';
import { ModelError } from './errors.js';
import { wasmConvGradientsInstalled } from './wasm-conv-gradients.js';

const NODE = '@tensorflow/tfjs-node';
const NODE_GPU = '@tensorflow/tfjs-node-gpu';

/** Node's message for an absent package. */
const absent = (name: string) =>
  Object.assign(new Error(`Cannot find package '${name}' imported from /work/main/libs/model/src/backend.ts\nDid you mean to import ...?`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
/** What tfjs-node throws on Windows when libtensorflow was never downloaded (path on line 2). */
const broken = () =>
  new Error(
    'The specified module could not be found.\r\n\\\\?\\C:\\app\\node_modules\\@tensorflow\\tfjs-node\\lib\\napi-v8\\tfjs_binding.node',
  );

/** The WebGPU probe of a machine without a Vulkan driver. */
const noAdapters = async (): Promise<AdapterProbe> => ({ adapters: [] });

/** An importer that fails the native packages as given and really imports everything else. */
function importer(failures: Record<string, () => Error>, calls: string[] = []) {
  return async (name: string): Promise<unknown> => {
    calls.push(name);
    const fail = failures[name];
    if (fail) throw fail();
    return import(name);
  };
}

describe('selectBackend', () => {
  it('falls through absent native modules to wasm, logging each reason', async () => {
    const logs: string[] = [];
    const calls: string[] = [];
    const choice = await selectBackend({
      importer: importer({ [NODE_GPU]: () => absent(NODE_GPU), [NODE]: () => absent(NODE) }, calls),
      log: (m) => logs.push(m),
      env: {},
      webgpuProbe: noAdapters,
    });
    // No adapter in the probe: Dawn is never loaded in this process.
    expect(calls).toEqual([NODE_GPU, NODE, '@tensorflow/tfjs-backend-wasm']);
    expect(choice.name).toBe('wasm');
    expect(choice.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.device).toMatch(/^CPU \(wasm, 1 thread(, simd)?\)$/);
    expect(choice.attempts.map((a) => [a.name, a.ok])).toEqual([
      ['tensorflow-gpu', false],
      ['webgpu', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    expect(choice.attempts[0].reason).toContain(`Cannot find package '${NODE_GPU}'`);
    expect(choice.attempts[1].reason).toContain('no WebGPU adapter (no Vulkan driver found');
    expect(choice.attempts[2].reason).toContain(`Cannot find package '${NODE}'`);
    expect(choice.attempts[3].reason).toBeUndefined();
    expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(3);
    expect(logs[0]).toContain('tensorflow-gpu');
    expect(wasmConvGradientsInstalled()).toBe(true);
  });

  it('treats present-but-broken bindings and binding-less modules as failed rungs', async () => {
    const logs: string[] = [];
    const choice = await selectBackend({
      importer: async (name) => {
        if (name === NODE_GPU) throw broken();
        if (name === NODE) return {}; // loads, registers nothing
        return import(name);
      },
      log: (m) => logs.push(m),
      env: {},
      webgpuProbe: noAdapters,
    });
    expect(choice.name).toBe('wasm');
    expect(choice.attempts[0].reason).toContain('The specified module could not be found');
    expect(choice.attempts[0].reason).toContain('tfjs_binding.node');
    expect(choice.attempts[2].reason).toContain("registered no 'tensorflow' backend");
    expect(logs.join('\n')).toContain('tfjs_binding.node');
  });

  it('sets CUDA_VISIBLE_DEVICES on the given env before importing tfjs-node-gpu', async () => {
    const env: NodeJS.ProcessEnv = { CUDA_VISIBLE_DEVICES: '0,1,2,3' };
    let seenAtImport: string | undefined;
    const choice = await selectBackend({
      gpuIndex: 2,
      env,
      importer: async (name) => {
        if (name === NODE_GPU) {
          seenAtImport = env['CUDA_VISIBLE_DEVICES'];
          throw absent(name);
        }
        if (name === NODE) throw absent(name);
        return import(name);
      },
    });
    expect(seenAtImport).toBe('2');
    expect(env['CUDA_VISIBLE_DEVICES']).toBe('2');
    expect(choice.name).toBe('wasm');
    // Without gpuIndex the variable is left alone.
    const untouched: NodeJS.ProcessEnv = {};
    await selectBackend({ env: untouched, importer: importer({ [NODE_GPU]: () => absent(NODE_GPU), [NODE]: () => absent(NODE) }) });
    expect(untouched['CUDA_VISIBLE_DEVICES']).toBeUndefined();
  });

  it('force picks exactly one rung', async () => {
    const calls: string[] = [];
    const wasm = await selectBackend({ force: 'wasm', importer: importer({}, calls) });
    expect(calls).toEqual(['@tensorflow/tfjs-backend-wasm']);
    expect(wasm.attempts).toEqual([{ name: 'wasm', ok: true }]);

    const cpu = await selectBackend({ force: 'cpu', importer: importer({}, calls) });
    expect(cpu).toMatchObject({ name: 'cpu', tfBackend: 'cpu', attempts: [{ name: 'cpu', ok: true }] });
    expect(tf.getBackend()).toBe('cpu');
    expect(calls).toHaveLength(1); // cpu needs no import
  });

  it("force: 'tensorflow' that fails throws E_BACKEND_UNAVAILABLE with the reason", async () => {
    const logs: string[] = [];
    let error: unknown;
    try {
      await selectBackend({ force: 'tensorflow', importer: importer({ [NODE]: broken }), log: (m) => logs.push(m) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BACKEND_UNAVAILABLE');
    expect((error as ModelError).message).toContain('tfjs_binding.node');
    expect(logs).toHaveLength(1);
  });

  it('is idempotent with the real importer (no tfjs-node here: wasm)', async () => {
    const first: BackendChoice = await selectBackend();
    const second = await selectBackend();
    expect(second.name).toBe(first.name);
    expect(second.tfBackend).toBe(tf.getBackend());
    expect(first.attempts[first.attempts.length - 1].ok).toBe(true);
    for (const a of first.attempts.slice(0, -1)) expect(a.reason).toMatch(/\S/);
    // The chosen backend computes.
    expect(tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0])).toBe(5);
  });
});
