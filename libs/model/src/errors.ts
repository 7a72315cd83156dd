/**
 * Stable error codes of the model library. Callers (apps) map them to exit codes; tests match on
 * `code`, never on message text.
 */
export type ModelErrorCode =
  /** Bad `createModel` / `replaceHead` options (class count, etc.). */
  | 'E_MODEL_OPTIONS'
  /** A flat weight vector whose length differs from the model's parameter count. */
  | 'E_MODEL_WEIGHTS_LENGTH'
  /** The model does not end in the shape this library expects (a Dense then a softmax Activation). */
  | 'E_MODEL_HEAD'
  /** `freezeLayers` asked for a layer count outside `[0, layers.length]`. */
  | 'E_FREEZE_RANGE'
  /** Batch data whose length does not match `count` samples of the model's input shape. */
  | 'E_INPUT_SHAPE'
  /** A label that is not an integer class id in `[0, numClasses)`. */
  | 'E_LABEL_RANGE'
  /** A GPU list (--gpus, CUDA_VISIBLE_DEVICES) that does not name GPUs by index. */
  | 'E_GPU_LIST'
  /** A forced backend could not be loaded or activated. */
  | 'E_BACKEND_UNAVAILABLE'
  /** A convolution the wasm gradient kernels cannot express (stride/dilation != 1, NCHW). */
  | 'E_WASM_CONV_UNSUPPORTED';

/** The one error class this library throws for its own failures. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;

  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'ModelError';
    this.code = code;
  }
}

/** An error as one bounded line: native loaders put paths (the useful part) on later lines. */
export function reasonOf(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}
