import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeImages } from '@cifar-dist/data';
import { computeGradients, createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import { weightsCrc, type SetModelMessage } from '@cifar-dist/protocol';
import { WorkerRuntime } from './worker-runtime.js';

let setModel: SetModelMessage;
const images = new Uint8Array(8 * 3072).map((_, i) => (i * 37 + 11) % 256);
const labels = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  const model = createModel({ numClasses: 10, seed: 9 });
  setModel = { type: 'set-model', weightsVersion: 0, modelId: 1, numClasses: 10, frozenLayers: 0, dropout: true, weights: getWeightsFlat(model, 'all') };
  model.dispose();
});

const compute = (rt: WorkerRuntime, step: number) =>
  rt.compute({ type: 'compute', weightsVersion: 0, modelId: 1, step, images, labels, count: 8 });

describe('WorkerRuntime', () => {
  it('reports the weights version it computed at, and every VERIFY_EVERY loads the CRC of the weights read back from its model', async () => {
    const rt = new WorkerRuntime();
    const ready = await rt.setModel(setModel);
    const model = createModel({ numClasses: 10, seed: 9 });
    const trainable = getWeightsFlat(model, 'trainable');
    expect(ready.weightsCrc).toBe(weightsCrc(trainable));
    const first = await compute(rt, 0);
    expect(first.weightsVersion).toBe(0);
    expect(first.weightsCrc).toBeUndefined();
    const crcs: Array<number | undefined> = [];
    for (let v = 1; v <= WorkerRuntime.VERIFY_EVERY; v++) {
      const weights = trainable.map((x) => x + v * 1e-6);
      const reply = await rt.compute({ type: 'compute', weightsVersion: v, weights, modelId: 1, step: v, images: images.subarray(0, 3072), labels: labels.subarray(0, 1), count: 1 });
      expect(reply.weightsVersion).toBe(v);
      crcs.push(reply.weightsCrc);
      if (v === WorkerRuntime.VERIFY_EVERY) expect(reply.weightsCrc).toBe(weightsCrc(weights));
    }
    expect(crcs.filter((c) => c !== undefined)).toHaveLength(1);
    // without new weights the worker still holds (and reports) the last version
    expect((await compute(rt, 99)).weightsVersion).toBe(WorkerRuntime.VERIFY_EVERY);
    // a new model: the CRC verified for the old weights is not reported for the new ones
    await rt.setModel(setModel);
    const fresh = await compute(rt, 100);
    expect(fresh.weightsVersion).toBe(0);
    expect(fresh.weightsCrc).toBeUndefined();
    model.dispose();
    rt.dispose();
  }, 120_000);

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

  it('trains with the label smoothing set-model gives (plain and micro-batched), the one-hot loss without it', async () => {
    const model = createModel({ numClasses: 10, dropout: false, seed: 9 });
    const xs = normalizeImages(images, 8);
    const expected = await computeGradients(model, xs, labels, 8, { labelSmoothing: 0.2 });
    const plain = await computeGradients(model, xs, labels, 8);
    const rt = new WorkerRuntime();
    await rt.setModel({ ...setModel, dropout: false, labelSmoothing: 0.2 });
    const got = await compute(rt, 0);
    expect(got.loss).toBeCloseTo(expected.loss, 5);
    expect(got.loss).not.toBeCloseTo(plain.loss, 5);
    expect(Buffer.from(got.gradients.buffer).equals(Buffer.from(expected.gradients.buffer))).toBe(true);
    const micro = await rt.compute({ type: 'compute', weightsVersion: 0, modelId: 1, step: 1, images, labels, count: 8, microBatch: 8 });
    expect(micro.loss).toBeCloseTo(expected.loss, 5);
    // a new model without the field trains on the one-hot target again
    await rt.setModel({ ...setModel, dropout: false });
    expect((await compute(rt, 2)).loss).toBeCloseTo(plain.loss, 5);
    rt.dispose();
    model.dispose();
  });

  it('refuses a request for a model it does not hold', async () => {
    const rt = new WorkerRuntime();
    await expect(compute(rt, 0)).rejects.toThrow(/holds model none/);
    await rt.setModel(setModel);
    await expect(rt.compute({ type: 'compute', weightsVersion: 0, modelId: 2, step: 0, images, labels, count: 8 })).rejects.toThrow(/request for model 2, but this worker holds model 1/);
    rt.dispose();
  });
});
