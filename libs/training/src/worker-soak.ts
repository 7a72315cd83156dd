/**
 * The worker's side of a training run, alone, for the soak on backends whose tensors cannot be
 * read synchronously (webgpu): one WorkerRuntime, as a socket worker holds it (reused gradient and
 * pixel buffers), is sent the new weights with every compute request, exactly as the coordinator
 * sends them; the update is plain SGD in JavaScript here instead of the coordinator's optimizer.
 * What this measures is the worker: its tensors, GPU buffers and process memory over many steps.
 */
import { createModel, readWeightsFlat } from '@cifar-dist/model';
import { memorySample, soakResult, type SoakResult, type SoakSample } from './soak-sample.js';
import type { SoakOptions } from './soak.js';
import { exposeGc, syntheticSet } from './test-support.js';
import { WorkerRuntime } from './worker-runtime.js';

/** Learning rate of the soak's SGD: small, so that random labels cannot make the weights diverge. */
const SOAK_LR = 0.005;

/**
 * Runs `opts.steps` compute requests of `opts.batchSize` synthetic images (dropout on) through one
 * WorkerRuntime on the active backend, loading new weights each step, and returns the memory
 * figures after `opts.probeStep` and after the last step. `opts.workers` is ignored.
 *
 * @throws RangeError when probeStep is not in [1, steps]; whatever the runtime throws
 */
export async function runWorkerSoak(opts: SoakOptions): Promise<SoakResult> {
  const { steps, batchSize, probeStep } = opts;
  if (!(Number.isInteger(steps) && Number.isInteger(probeStep) && probeStep >= 1 && probeStep <= steps)) {
    throw new RangeError(`probe step ${probeStep} must be an integer in [1, ${steps}]`);
  }
  const log = opts.log ?? (() => undefined);
  const gc = exposeGc();
  const init = createModel({ numClasses: 10, dropout: true, seed: 1 });
  const weights = await readWeightsFlat(init, 'all');
  init.dispose();
  const runtime = new WorkerRuntime({ reuseBuffers: true });
  const data = syntheticSet(batchSize * 16, 1);
  const samples: SoakSample[] = [];
  let probeTime = 0;
  let lastTime = 0;
  try {
    await runtime.setModel({ type: 'set-model', weightsVersion: 0, modelId: 1, numClasses: 10, frozenLayers: 0, dropout: true, weights });
    for (let step = 1; step <= steps; step++) {
      const at = ((step - 1) % 16) * batchSize;
      const reply = await runtime.compute({
        type: 'compute', weightsVersion: 0, modelId: 1, step, weights,
        images: data.images.subarray(at * 3072, (at + batchSize) * 3072),
        labels: data.labels.subarray(at, at + batchSize),
        count: batchSize,
      });
      for (let i = 0; i < weights.length; i++) weights[i] = (weights[i] as number) - SOAK_LR * (reply.gradients[i] as number);
      if (step === probeStep || step === steps) {
        samples.push(memorySample(step, gc));
        if (step === probeStep) probeTime = performance.now();
        if (step === steps) lastTime = performance.now();
        log(formatLine(samples[samples.length - 1] as SoakSample, reply.loss));
      } else if (step % 20 === 0) {
        log(formatLine(memorySample(step, gc), reply.loss));
      }
    }
  } finally {
    runtime.dispose();
  }
  const [first, last] = samples as [SoakSample, SoakSample];
  return soakResult(first, last, steps > probeStep ? (lastTime - probeTime) / (steps - probeStep) : 0, gc !== null);
}

function formatLine(s: SoakSample, loss: number): string {
  return `step ${s.step}: rss ${(s.rss / 2 ** 20).toFixed(1)} MB, numTensors ${s.numTensors}, numBytes ${(s.numBytes / 2 ** 20).toFixed(1)} MB, ` +
    `GPU buffers ${(s.gpuBytesUsed / 2 ** 20).toFixed(1)}/${(s.gpuBytesAllocated / 2 ** 20).toFixed(1)} MB; loss ${loss.toFixed(4)}`;
}
