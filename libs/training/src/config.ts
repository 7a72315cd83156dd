import type { GradDtype } from '@cifar-dist/protocol';
import { DEFAULT_FINETUNE_CLASSES, type FinetuneSpec } from '@cifar-dist/data';
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
  /**
   * Times each image of the fine-tune's added (CIFAR-100) classes is seen per epoch; the
   * CIFAR-10 images are seen once. They have 500 training images each against 5,000.
   */
  finetuneOversample: number;
  /**
   * After the fine-tune, shift the output bias from the oversampled training prior to the class
   * prior chosen by finetuneLogitTau (post-hoc logit adjustment, see logitAdjustment).
   */
  finetuneLogitAdjust: boolean;
  /**
   * The class prior the adjusted fine-tuned model predicts under: the natural prior of the
   * training set to the power (1 - tau), i.e. 0 = the natural prior (most accurate), 1 = uniform
   * (best balanced recall). Class c's output bias is lowered by ln(repeats_c) + tau * ln(n_c / n_max)
   * (n_c its training images, repeats_c its oversampling). Absent (checkpoints
   * from before it existed): 0.
   */
  finetuneLogitTau?: number;
  /**
   * A per-class decision threshold on top of the logit adjustment: nats added to an added class's
   * logit (output bias) after the fine-tune, keyed by its CIFAR-100 fine class name. Chosen on the
   * held-out split by `choose-prior` (the smallest bias lifting each added class's held-out recall
   * to the floor, see chooseClassBias). Applied with the adjustment (not under
   * --no-logit-adjust). Absent (older checkpoints): none.
   */
  finetuneClassBias?: Readonly<Record<string, number>>;
  /**
   * Label smoothing of each phase's training loss (Szegedy et al. 2016): the one-hot target becomes
   * (1 - e) onehot + e / classes. Absent (older checkpoints): 0.
   */
  labelSmoothing?: number;
  finetuneLabelSmoothing?: number;
  /**
   * Stronger augmentation for the fine-tune's added (oversampled) classes: a Cutout square of this
   * side (pixels) on each of their training images, after the crop and flip. Absent or 0: none.
   */
  finetuneCutout?: number;
  /**
   * Hold out this share of each class of the training set (the last images of each class, see
   * splitHoldout) and evaluate on it instead of the test sets, which are then never read: the
   * mode every recipe choice is made in. Absent: train on the full training set, test on the test sets.
   */
  holdout?: number;
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
  /**
   * How long a step or an evaluation waits for `minWorkers` live workers (saying so every minute)
   * before the run stops with E_TRAIN_NO_WORKERS, ms; the newest checkpoint stays the last good
   * state. Absent (checkpoints of older runs): 30 minutes.
   */
  workerWaitMs?: number;
  /**
   * Bit-identical results whatever the number of workers: global batches are computed as fixed
   * micro-batches of `microBatch` samples with dropout masks keyed by seed, epoch and sample
   * position, and reduced in micro-batch order. Costs more gradient traffic.
   */
  deterministic: boolean;
  /**
   * How workers send gradients: float32, or 16-bit (half the bytes; the coordinator averages in
   * float32 and the weights stay float32). Deterministic mode stays bit-exact with either: every
   * micro-batch gradient is encoded alike on any worker.
   */
  gradDtype: GradDtype;
  /** Micro-batch size of deterministic mode. */
  microBatch: number;
  /**
   * Size each worker's shard by its measured speed (samples per ms of compute) instead of
   * equally, so that workers on slower cores or machines finish with the others. The gradient is
   * the same sample-weighted mean either way. Absent in checkpoints of older runs: on.
   */
  balanceShards?: boolean;
  /**
   * Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): the averaged gradient g is
   * scaled by maxNorm / ||g||_2 when its norm exceeds maxNorm. Absent: no clipping. With it, a
   * step whose every worker's gradient norm jumped past the GradientGuard's bound is clipped and
   * applied instead of stopping the run.
   */
  clipNorm?: number;
}

/**
 * The default fine-tune's class bias (nats, see TrainConfig.finetuneClassBias): what
 * `choose-prior` chose on the held-out split for the default recipe, lifting every added class to
 * held-out recall 0.68: the highest floor (up to the goal plus two standard errors of the
 * held-out/test gap) at which the held-out macro precision stays at or above the reference's
 * (chooseRecallFloor; README, "Choosing the recipe").
 */
export const DEFAULT_CLASS_BIAS: Readonly<Record<string, number>> = Object.freeze({ lobster: 1.85, snail: 1.4, spider: 1.05, worm: 0.5 });

/**
 * The default recipe (the one that reaches the accuracy goals of the main job): SGD with Nesterov
 * momentum, global batch 128, linear warm-up then cosine decay, weight decay 5e-4, random-crop and
 * flip augmentation; the fine-tune uses a lower peak learning rate. The fine-tune's length (10
 * epochs), oversampling (16), logit tau (0) and class bias (DEFAULT_CLASS_BIAS) were chosen on the
 * held-out split (`--holdout 0.2`, README "Choosing the recipe"); label smoothing and Cutout lost
 * there and stay off.
 */
export function defaultConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  const finetune = overrides.finetune ?? {};
  // The default bias goes with the default added classes (in any order) and the adjustment it rides on.
  const classes = finetune.classes?.map((c) => c.trim());
  const defaultClasses =
    finetune.superclass === undefined &&
    (classes === undefined || (classes.length === DEFAULT_FINETUNE_CLASSES.length && DEFAULT_FINETUNE_CLASSES.every((c) => classes.includes(c))));
  return {
    dataDir: './data',
    epochs: 18,
    finetuneEpochs: 10,
    batchSize: 128,
    seed: 42,
    augment: true,
    dropout: true,
    frozenLayers: 5,
    finetune: {},
    finetuneOversample: 16,
    finetuneLogitAdjust: true,
    finetuneLogitTau: 0,
    // Chosen for the default added classes; another set of classes, or no adjustment, starts with none.
    finetuneClassBias: defaultClasses && overrides.finetuneLogitAdjust !== false ? DEFAULT_CLASS_BIAS : {},
    labelSmoothing: 0,
    finetuneLabelSmoothing: 0,
    finetuneCutout: 0,
    optimizer: { ...DEFAULT_OPTIMIZER },
    schedule: { lr: 0.05, warmupEpochs: 1, decay: 'cosine', minFactor: 0.01 },
    finetuneSchedule: { lr: 0.02, warmupEpochs: 0.5, decay: 'cosine', minFactor: 0.01 },
    evaluateTrain: true,
    evalChunk: 500,
    minWorkers: 1,
    workerWaitMs: 30 * 60_000,
    deterministic: false,
    gradDtype: 'float32',
    microBatch: 32,
    balanceShards: true,
    ...overrides,
  };
}
