/**
 * Soak test of the training loop: a PhaseRunner with in-process workers (wasm backend, as a
 * worker picks on this machine) trains `--steps` synchronous steps on synthetic data, and the
 * process's resident memory and tfjs's live tensors are compared between an early step and the
 * last one. A leak of one tensor, or of a few MB of buffers, per step shows as growth.
 *
 *   npx tsx --tsconfig libs/training/tsconfig.json libs/training/src/soak.ts --steps 500 [--workers 2] [--batch 32] [--probe 50]
 *
 * Prints RSS, heap, tf.memory().numTensors and numBytes after step `--probe` and after the last
 * step, and their ratios; exits 1 when RSS or numTensors grew by more than 5 %. Augmentation and
 * dropout are on (the default recipe's code paths); the learning rate is a small constant so that
 * random labels cannot make the weights diverge.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createModel, selectBackend, tf } from '@cifar-dist/model';
import { defaultConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { PhaseRunner } from './phase-runner.js';
import { WorkerPool } from './worker-pool.js';
import { CLASS_NAMES, exposeGc, syntheticSet } from './test-support.js';

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

/** Memory figures after one step. */
export interface SoakSample {
  step: number;
  /** process.memoryUsage.rss(), bytes, taken before the forced GC. */
  rss: number;
  /** process.memoryUsage().heapUsed, bytes (after a full GC when one could be exposed). */
  heapUsed: number;
  /** process.memoryUsage().arrayBuffers: typed-array stores outside the JS heap, bytes. */
  arrayBuffers: number;
  /** Size of the wasm backend's linear memory (it only ever grows), bytes; 0 on other backends. */
  wasmHeap: number;
  numTensors: number;
  /** tf.memory().numBytes: bytes held by live tensors. */
  numBytes: number;
}

export interface SoakResult {
  first: SoakSample;
  last: SoakSample;
  /** last / first. */
  rssRatio: number;
  tensorsRatio: number;
  bytesRatio: number;
  /** Mean wall time per step after the probe step, ms. */
  msPerStep: number;
  /** Whether heap figures were taken after a forced full GC. */
  gcExposed: boolean;
}

/** Growth allowed between the probe step and the last one (5 %). */
export const SOAK_TOLERANCE = 0.05;




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
  const sample = (step: number): SoakSample => {
    // RSS as the run leaves it: a forced full GC would release and later re-take pages, which
    // makes RSS swing by ±5 % between samples (measured here); the heap figures after one.
    const rss = process.memoryUsage.rss();
    gc?.();
    const mem = process.memoryUsage();
    const t = tf.memory();
    return {
      step, rss, heapUsed: mem.heapUsed, arrayBuffers: mem.arrayBuffers, wasmHeap: wasmHeapBytes(),
      numTensors: t.numTensors, numBytes: t.numBytes,
    };
  };
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
  return {
    first,
    last,
    rssRatio: last.rss / first.rss,
    tensorsRatio: last.numTensors / first.numTensors,
    bytesRatio: last.numBytes / first.numBytes,
    msPerStep: steps > probeStep ? (lastTime - probeTime) / (steps - probeStep) : 0,
    gcExposed: gc !== null,
  };
}

/** The wasm backend's linear memory, bytes (0 when the backend is not wasm). */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** One line per sample: "after step N: rss …, heapUsed …, arrayBuffers …, wasm heap …, numTensors …, numBytes …". */
export function formatSample(s: SoakSample): string {
  return (
    `after step ${s.step}: rss ${mb(s.rss)}, heapUsed ${mb(s.heapUsed)}, arrayBuffers ${mb(s.arrayBuffers)}, ` +
    `wasm heap ${mb(s.wasmHeap)}, numTensors ${s.numTensors}, numBytes ${mb(s.numBytes)}`
  );
}

/** Whether RSS and live tensors stayed within SOAK_TOLERANCE of the probe step's figures. */
export function soakPassed(r: SoakResult): boolean {
  return r.rssRatio <= 1 + SOAK_TOLERANCE && r.tensorsRatio <= 1 + SOAK_TOLERANCE;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '500' },
      workers: { type: 'string', default: '2' },
      batch: { type: 'string', default: '32' },
      probe: { type: 'string', default: '50' },
    },
  });
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
  const choice = await selectBackend({ force: 'wasm' });
  console.log(`soak: ${opts.steps} steps, global batch ${opts.batchSize}, ${opts.workers} in-process workers, backend ${choice.tfBackend}`);
  const r = await runSoak(opts);
  console.log(formatSample(r.first));
  console.log(formatSample(r.last));
  console.log(
    `ratio (step ${r.last.step} / step ${r.first.step}): rss ${r.rssRatio.toFixed(4)}, numTensors ${r.tensorsRatio.toFixed(4)}, ` +
      `numBytes ${r.bytesRatio.toFixed(4)}; ${r.msPerStep.toFixed(0)} ms/step; heap after gc: ${r.gcExposed ? 'yes' : 'no'}`,
  );
  const ok = soakPassed(r);
  console.log(ok ? `OK: grew by at most ${SOAK_TOLERANCE * 100} %` : `FAIL: RSS or numTensors grew by more than ${SOAK_TOLERANCE * 100} %`);
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exitCode = 2;
  });
}
