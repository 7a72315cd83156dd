import type { FinetuneSpec } from '@cifar-dist/data';
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from './optimizer.js';
import type { ScheduleConfig } from './schedule.js';

/** Everything that decides what a run computes (saved in checkpoints and report.json). */
export interface TrainConfig {
  dataDir: string;
  epochs: number;
  finetuneEpochs: number;
  /** Global batch: samples per synchronous step, split over the workers. */
  batchSize: number;
  seed: number;
  augment: boolean;
  dropout: boolean;
  frozenLayers: number;
  finetune: FinetuneSpec;
  trainLimit?: number;
  testLimit?: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  finetuneSchedule: ScheduleConfig;
  /** Evaluate on the whole training set at the end of each phase (forward only). */
  evaluateTrain: boolean;
  /** Samples per evaluation request sent to one worker. */
  evalChunk: number;
  /** Workers the run waits for before starting. */
  minWorkers: number;
}

/**
 * The default recipe (the one that reaches the accuracy goals of the main job): SGD with Nesterov
 * momentum, global batch 128, linear warm-up then cosine decay, weight decay 5e-4, random-crop and
 * flip augmentation; the fine-tune uses a lower peak learning rate.
 */
export function defaultConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    dataDir: './data',
    epochs: 18,
    finetuneEpochs: 3,
    batchSize: 128,
    seed: 42,
    augment: true,
    dropout: true,
    frozenLayers: 5,
    finetune: {},
    optimizer: { ...DEFAULT_OPTIMIZER },
    schedule: { lr: 0.05, warmupEpochs: 1, decay: 'cosine', minFactor: 0.01 },
    finetuneSchedule: { lr: 0.02, warmupEpochs: 0.5, decay: 'cosine', minFactor: 0.01 },
    evaluateTrain: true,
    evalChunk: 500,
    minWorkers: 1,
    ...overrides,
  };
}
