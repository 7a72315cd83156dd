import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import { weightsCrc, type SetModelMessage } from '@cifar-dist/protocol';
import { WorkerRuntime } from './worker-runtime.js';

let setModel: SetModelMessage;
const images = new Uint8Array(8 * 3072).map((_, i) => (i * 37 + 11) % 256);
const labels = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  const model = createModel({ numClasses: 10, seed: 9 });
  setModel = { type: 'set-model', modelId: 1, numClasses: 10, frozenLayers: 0, dropout: true, weights: getWeightsFlat(model, 'all') };
  model.dispose();
});

const compute = (rt: WorkerRuntime, step: number) =>
  rt.compute({ type: 'compute', modelId: 1, step, images, labels, count: 8 });

describe('WorkerRuntime', () => {
  it('reports the CRC of the weights it holds, read back from the model', async () => {
    const rt = new WorkerRuntime();
    const ready = await rt.setModel(setModel);
    const model = createModel({ numClasses: 10, seed: 9 });
    expect(ready.weightsCrc).toBe(weightsCrc(getWeightsFlat(model, 'trainable')));
    expect((await compute(rt, 0)).weightsCrc).toBe(ready.weightsCrc);
    model.dispose();
    rt.dispose();
  });

  it('draws fresh dropout masks per step and per worker: no two gradients are the same', async () => {
    const a = new WorkerRuntime();
    const b = new WorkerRuntime();
    await a.setModel(setModel);
    await b.setModel(setModel);
    const g1 = (await compute(a, 0)).gradients;
    const g2 = (await compute(a, 1)).gradients;
    const g3 = (await compute(b, 0)).gradients;
    expect(Buffer.from(g1.buffer).equals(Buffer.from(g2.buffer))).toBe(false);
    expect(Buffer.from(g1.buffer).equals(Buffer.from(g3.buffer))).toBe(false);
    // with dropout off the same shard gives the same gradient bit for bit
    const c = new WorkerRuntime();
    await c.setModel({ ...setModel, dropout: false });
    expect(Buffer.from((await compute(c, 0)).gradients.buffer).equals(Buffer.from((await compute(c, 1)).gradients.buffer))).toBe(true);
    for (const rt of [a, b, c]) rt.dispose();
  });

  it('with reuseBuffers hands out one array, overwritten by each compute with the values a fresh one would hold', async () => {
    const fresh = new WorkerRuntime();
    const reuse = new WorkerRuntime({ reuseBuffers: true });
    await fresh.setModel({ ...setModel, dropout: false });
    await reuse.setModel({ ...setModel, dropout: false });
    const first = (await compute(reuse, 0)).gradients;
    const expected = Buffer.from((await compute(fresh, 0)).gradients.buffer);
    expect(Buffer.from(first.buffer).equals(expected)).toBe(true);
    first.fill(0);
    const second = (await compute(reuse, 1)).gradients;
    expect(second).toBe(first);
    expect(Buffer.from(second.buffer).equals(expected)).toBe(true);
    // the default hands out a new array each time (an in-process caller may hold replies)
    expect((await compute(fresh, 1)).gradients).not.toBe((await compute(fresh, 2)).gradients);
    fresh.dispose();
    reuse.dispose();
  });

  it('refuses a request for a model it does not hold', async () => {
    const rt = new WorkerRuntime();
    await expect(compute(rt, 0)).rejects.toThrow(/holds model none/);
    await rt.setModel(setModel);
    await expect(rt.compute({ type: 'compute', modelId: 2, step: 0, images, labels, count: 8 })).rejects.toThrow(/request for model 2, but this worker holds model 1/);
    rt.dispose();
  });
});
