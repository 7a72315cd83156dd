/** Stable codes for failures of a training run; the apps map them to exit codes. */
export type TrainingErrorCode =
  | 'E_TRAIN_GRADIENT'
  | 'E_TRAIN_NONFINITE'
  | 'E_TRAIN_NO_WORKERS'
  | 'E_TRAIN_WORKER'
  | 'E_TRAIN_CHECKPOINT'
  | 'E_TRAIN_CONFIG'
  | 'E_TRAIN_OPTIMIZER';

export class TrainingError extends Error {
  readonly code: TrainingErrorCode;
  constructor(code: TrainingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainingError';
    this.code = code;
  }
}
