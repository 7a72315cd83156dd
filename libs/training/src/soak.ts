/**
 * Soak test of the training loop: a PhaseRunner with in-process workers (wasm backend, as a
 * worker picks on this machine) trains `--steps` synchronous steps on synthetic data, and the
 * process's resident memory and tfjs's live tensors are compared between an early step and the
 * last one. A leak of one tensor, or of a few MB of buffers, per step shows as growth.
 *
 *   npx tsx --tsconfig libs/training/tsconfig.json libs/training/src/soak.ts --steps 500 [--workers 2] [--batch 32] [--probe 50]
 *   npx tsx --tsconfig libs/training/tsconfig.json libs/training/src/soak.ts --backend webgpu --steps 200 --batch 8 --probe 20
 *
 * With `--backend webgpu` (whose tensors cannot be read synchronously, as the coordinator's model
 * must be) it soaks the worker's side alone: one WorkerRuntime is sent new weights every step, as
 * a socket worker is, and the weights are updated by plain SGD here (see worker-soak.ts); the GPU
 * buffer figures of tf.memory() are printed too.
 *
 * Prints RSS, heap, tf.memory().numTensors and numBytes after step `--probe` and after the last
 * step, and their ratios; exits 1 when RSS or numTensors grew by more than 5 %. Augmentation and
 * dropout are on (the default recipe's code paths); the learning rate is a small constant so that
 * random labels cannot make the weights diverge.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { BACKEND_NAMES, createModel, selectBackend, stopWebgpu, type BackendName } from '@cifar-dist/model';
import { defaultConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { PhaseRunner } from './phase-runner.js';
import { WorkerPool } from './worker-pool.js';
import { formatSample, memorySample, soakPassed, soakResult, SOAK_TOLERANCE, type SoakResult, type SoakSample } from './soak-sample.js';
import { CLASS_NAMES, exposeGc, syntheticSet } from './test-support.js';
import { runWorkerSoak } from './worker-soak.js';

export { formatSample, soakPassed, SOAK_TOLERANCE, type SoakResult, type SoakSample };

export interface SoakOptions {
  /** Optimizer steps to run (one epoch of `steps * batchSize` synthetic images). */
  steps: number;
  /** In-process workers sharing each global batch. */
  workers: number;
  /** Global batch size. */
  batchSize: number;
  /** The early step whose figures are the baseline (1-based, after that step). */
  probeStep: number;
  /** Progress lines, e.g. console.log; silent when omitted. */
  log?: (msg: string) => void;
}

/**
 * Runs the soak and returns the figures; disposes every tensor it made (model, workers).
 * The caller selects the tfjs backend first (selectBackend).
 * @throws RangeError when probeStep is not in [1, steps]; whatever the run throws
 */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const { steps, workers, batchSize, probeStep } = opts;
  if (!(Number.isInteger(steps) && Number.isInteger(probeStep) && probeStep >= 1 && probeStep <= steps)) {
    throw new RangeError(`probe step ${probeStep} must be an integer in [1, ${steps}]`);
  }
  const log = opts.log ?? (() => undefined);
  const gc = exposeGc();
  const config = defaultConfig({
    batchSize,
    epochs: 1,
    evaluateTrain: false,
    evalChunk: 64,
    schedule: { lr: 0.005, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
  });
  const train = syntheticSet(steps * batchSize, 1);
  const test = syntheticSet(64, 2);
  const pool = new WorkerPool();
  for (let w = 0; w < workers; w++) pool.add(new InProcessLink(`soak-${w}`));
  const model = createModel({ numClasses: 10, dropout: config.dropout, seed: config.seed });
  const samples: SoakSample[] = [];
  let probeTime = 0;
  let lastTime = 0;
  const sample = (step: number): SoakSample => memorySample(step, gc);
  try {
    const runner = new PhaseRunner({
      name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: CLASS_NAMES, frozenLayers: 0,
      train, test, epochs: 1, schedule: config.schedule, config, pool,
      hooks: {
        onStep: (info) => {
          if (info.step === probeStep || info.step === steps) {
            samples.push(sample(info.step));
            if (info.step === probeStep) probeTime = performance.now();
            if (info.step === steps) lastTime = performance.now();
            log(formatSample(samples[samples.length - 1] as SoakSample));
          } else if (info.step % 50 === 0) {
            log(`${formatSample(sample(info.step))}; loss ${info.loss.toFixed(4)}`);
          }
        },
      },
    });
    await runner.run();
  } finally {
    model.dispose();
    pool.closeAll('soak over');
  }
  const [first, last] = samples as [SoakSample, SoakSample];
  return soakResult(first, last, steps > probeStep ? (lastTime - probeTime) / (steps - probeStep) : 0, gc !== null);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '500' },
      workers: { type: 'string', default: '2' },
      batch: { type: 'string', default: '32' },
      probe: { type: 'string', default: '50' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  const backend = values.backend as BackendName;
  if (!BACKEND_NAMES.includes(backend)) throw new RangeError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got ${values.backend}`);
  const opts: SoakOptions = {
    steps: Number(values.steps),
    workers: Number(values.workers),
    batchSize: Number(values.batch),
    probeStep: Math.min(Number(values.probe), Number(values.steps)),
    log: (m) => console.log(m),
  };
  for (const [name, v] of Object.entries({ steps: opts.steps, workers: opts.workers, batch: opts.batchSize })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got ${v}`);
  }
  const choice = await selectBackend({ force: backend });
  const workerSide = choice.tfBackend === 'webgpu';
  console.log(
    `soak: ${opts.steps} steps, ${workerSide ? `batch ${opts.batchSize}, the worker's side alone` : `global batch ${opts.batchSize}, ${opts.workers} in-process workers`}, ` +
      `backend ${choice.tfBackend} (${choice.device})`,
  );
  const r = workerSide ? await runWorkerSoak(opts) : await runSoak(opts);
  console.log(formatSample(r.first));
  console.log(formatSample(r.last));
  const gpu = r.first.gpuBytesAllocated > 0 ? `, GPU buffers allocated ${(r.last.gpuBytesAllocated / r.first.gpuBytesAllocated).toFixed(4)}` : '';
  console.log(
    `ratio (step ${r.last.step} / step ${r.first.step}): rss ${r.rssRatio.toFixed(4)}, numTensors ${r.tensorsRatio.toFixed(4)}, ` +
      `numBytes ${r.bytesRatio.toFixed(4)}${gpu}; ${r.msPerStep.toFixed(0)} ms/step; heap after gc: ${r.gcExposed ? 'yes' : 'no'}`,
  );
  const ok = soakPassed(r);
  console.log(ok ? `OK: grew by at most ${SOAK_TOLERANCE * 100} %` : `FAIL: RSS, numTensors or GPU buffers grew by more than ${SOAK_TOLERANCE * 100} %`);
  process.exitCode = ok ? 0 : 1;
  stopWebgpu();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exitCode = 2;
  });
}
