/**
 * A small synthetic RunReport shared by the specs (not exported from index.ts): two phases named
 * like the real ones (so the reference figures apply), 3 and 4 classes, hand-picked confusion
 * matrices, and one class name full of HTML-special characters to prove the escaping.
 */
import { classificationReport } from '@cifar-dist/metrics';
import { defaultConfig, type EpochRecord, type PhaseReport, type RunReport } from '@cifar-dist/training';

/** A class name that breaks the page unless escaped. */
export const NASTY_NAME = 'cat <b>&"x\'';

/** cifar10-phase test matrix (rows = true, cols = predicted); class 0 precision = 5/7, recall = 5/6. */
export const CM3: number[][] = [
  [5, 1, 0],
  [2, 6, 2],
  [0, 0, 4],
];
export const NAMES3 = ['airplane', 'automobile', NASTY_NAME];

export const CM4: number[][] = [
  [3, 0, 0, 1],
  [0, 4, 1, 0],
  [1, 0, 2, 0],
  [0, 1, 0, 7],
];
export const NAMES4 = ['airplane', 'automobile', 'bird', 'maple_tree'];

function epoch(n: number, loss: number, accuracy: number, testLoss: number, testAccuracy: number): EpochRecord {
  return { epoch: n, loss, accuracy, testLoss, testAccuracy, lr: 0.05 / n, seconds: 10 + n, imagesPerSecond: 100 * n, workers: 2 };
}

function phase(name: PhaseReport['name'], cm: number[][], classNames: string[], history: EpochRecord[]): PhaseReport {
  return {
    name,
    numClasses: classNames.length,
    classNames,
    params: 1_250_858,
    trainableParams: name === 'finetune' ? 1_000_000 : 1_250_858,
    frozenLayers: name === 'finetune' ? 5 : 0,
    epochs: history.length,
    steps: 12 * history.length,
    samplesSeen: 1536 * history.length,
    history,
    train: classificationReport(cm, { classNames, loss: 0.5 }),
    test: classificationReport(cm, { classNames, loss: 0.75 }),
    ...(name === 'finetune' ? { frozenWeightsUnchanged: true } : {}),
    seconds: 42,
  };
}

/** The fixture run: cifar10 (3 epochs) then finetune (2 epochs). */
export function fixtureReport(): RunReport {
  return {
    version: 1,
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T04:05:06.000Z',
    backend: 'cpu',
    workers: [
      { workerId: 'w0', backend: 'wasm', device: 'CPU (wasm, 1 thread, simd)', hostname: 'host<1>', pid: 101 },
      {
        workerId: 'w1', backend: 'webgpu', device: 'NVIDIA H200', hostname: 'host<1>', pid: 102,
        adapter: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', driver: 'NVIDIA 570.86.15', emulated: false, index: 1 },
      },
    ],
    config: defaultConfig({ dataDir: '/data', seed: 1234, finetuneOversample: 4 }),
    phases: [
      phase('cifar10', CM3, NAMES3, [epoch(1, 1.9, 0.3, 1.5, 0.45), epoch(2, 1.4, 0.5, 1.2, 0.55), epoch(3, 1.1, 0.6, 1.0, 0.62)]),
      phase('finetune', CM4, NAMES4, [epoch(1, 1.0, 0.65, 0.9, 0.7), epoch(2, 0.8, 0.72, 0.85, 0.74)]),
    ],
  };
}
