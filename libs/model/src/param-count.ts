import type * as tf from '@tensorflow/tfjs';

/** Parameter counts of a model, in scalars (float32 values). */
export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

/** Number of scalars in a tensor of this shape (product of dims; 1 for a scalar). */
export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Concrete shape of a weight (LayerVariable.shape is typed with nullable dims; a variable's isn't). */
export function weightShape(w: tf.LayerVariable): number[] {
  return w.read().shape;
}

/**
 * Counts the model's parameters. `trainable` follows each layer's `trainable` flag (see
 * `freezeLayers`), so after freezing the first conv block of the reference network
 * `trainable = total - 896 - 9248`.
 */
export function countParams(model: tf.LayersModel): ParamCounts {
  const total = model.weights.reduce((s, w) => s + sizeOfShape(weightShape(w)), 0);
  const trainable = model.trainableWeights.reduce((s, w) => s + sizeOfShape(weightShape(w)), 0);
  return { total, trainable, nonTrainable: total - trainable };
}
