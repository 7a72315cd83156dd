/** Learning-rate schedule of one phase, in optimizer steps. */
export interface ScheduleConfig {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from lr/10 to lr over this many epochs (may be fractional). */
  warmupEpochs: number;
  /** 'cosine' decays to lr*minFactor at the last step (Loshchilov & Hutter 2017, no restarts); 'constant' keeps lr. */
  decay: 'cosine' | 'constant';
  minFactor: number;
}

/**
 * Learning rate at optimizer step `step` (0-based) of a phase that lasts `totalSteps` steps and
 * has `stepsPerEpoch` steps per epoch.
 */
export function learningRateAt(
  cfg: ScheduleConfig,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
): number {
  const warmup = Math.round(cfg.warmupEpochs * stepsPerEpoch);
  if (step < warmup) return cfg.lr * (0.1 + (0.9 * step) / warmup);
  if (cfg.decay === 'constant') return cfg.lr;
  const span = Math.max(1, totalSteps - warmup - 1);
  const t = Math.min(1, (step - warmup) / span);
  const min = cfg.lr * cfg.minFactor;
  return min + 0.5 * (cfg.lr - min) * (1 + Math.cos(Math.PI * t));
}
