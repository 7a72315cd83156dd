import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import { ZeroComputeRuntime } from './zero-compute-runtime.js';

describe('ZeroComputeRuntime (a measuring tool)', () => {
  let weights: Float32Array;
  beforeAll(async () => {
    await selectBackend({ force: 'cpu' });
    const model = createModel({ numClasses: 14, seed: 1 });
    weights = getWeightsFlat(model, 'all');
    model.dispose();
  });

  it('answers with a gradient of the trainable length (5 frozen layers: 14-class head) whose values change every step and worker, at the version it was sent', async () => {
    const a = new ZeroComputeRuntime(1);
    const b = new ZeroComputeRuntime(2);
    for (const rt of [a, b]) await rt.setModel({ type: 'set-model', modelId: 4, numClasses: 14, frozenLayers: 5, dropout: true, weights, weightsVersion: 0 });
    const ask = (rt: ZeroComputeRuntime, step: number) =>
      rt.compute({ type: 'compute', modelId: 4, step, weightsVersion: step, weights: new Float32Array(1_242_766), images: new Uint8Array(3072 * 2), labels: new Uint8Array(2), count: 2 });
    const s0 = await ask(a, 0);
    const s0copy = Float32Array.from(s0.gradients);
    const s1 = await ask(a, 1);
    const other = await ask(b, 1);
    // the first five layers frozen (conv2d_1, conv2d_2 and three without weights): conv2d_3, conv2d_4, dense, the 14-class head
    expect(s0copy.length).toBe(3 * 3 * 32 * 64 + 64 + 3 * 3 * 64 * 64 + 64 + 2304 * 512 + 512 + 512 * 14 + 14);
    expect(s1.weightsVersion).toBe(1);
    expect(Buffer.from(s1.gradients.buffer, s1.gradients.byteOffset, s1.gradients.byteLength).equals(Buffer.from(s0copy.buffer))).toBe(false);
    expect(Buffer.from(other.gradients.buffer, other.gradients.byteOffset, other.gradients.byteLength).equals(Buffer.from(s1.gradients.slice().buffer))).toBe(false);
    const f16 = await a.compute({ type: 'compute', modelId: 4, step: 2, weightsVersion: 2, gradDtype: 'float16', images: new Uint8Array(3072), labels: new Uint8Array(1), count: 1 });
    expect(f16.gradients).toBeInstanceOf(Uint16Array);
    expect(f16.gradScales).toHaveLength(Math.ceil(s0copy.length / 1024));
    await expect(a.compute({ type: 'compute', modelId: 5, step: 3, weightsVersion: 2, images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 })).rejects.toThrow(/request for model 5/);
  });
});
