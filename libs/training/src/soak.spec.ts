import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, selectBackend, tf } from '@cifar-dist/model';
import { formatSample, runSoak } from './soak.js';

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
});

describe('soak (short)', () => {
  it('60 steps with 2 in-process workers: live tensors and their bytes are the same at step 10 and step 60, and all are freed after', async () => {
    const before = tf.memory();
    const r = await runSoak({ steps: 60, workers: 2, batchSize: 8, probeStep: 10 });
    console.log(`${formatSample(r.first)}\n${formatSample(r.last)}`);
    expect(r.first.step).toBe(10);
    expect(r.last.step).toBe(60);
    // Live: exactly the weights of the coordinator's model and of each worker's model.
    const probe = createModel({ numClasses: 10, dropout: true, seed: 1 });
    const weightsPerModel = probe.weights.length;
    probe.dispose();
    expect(r.first.numTensors).toBe(3 * weightsPerModel);
    expect(r.last.numTensors).toBe(r.first.numTensors);
    expect(r.last.numBytes).toBe(r.first.numBytes);
    expect(r.tensorsRatio).toBe(1);
    // (RSS is left to the long script: 60 steps are too few for the allocator to settle.)
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('refuses a probe step outside the run', async () => {
    await expect(runSoak({ steps: 5, workers: 1, batchSize: 8, probeStep: 6 })).rejects.toThrow(RangeError);
  });
});
