import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';

/** What `tf.initializers.glorotUniform` returns (tfjs does not export the Initializer class type). */
export type KernelInitializer = ReturnType<typeof tf.initializers.glorotUniform>;

/** Options of {@link createModel}. */
export interface ModelOptions {
  /** Number of output classes (softmax width), an integer in [2, 256]. */
  numClasses: number;
  /**
   * Default true. false sets every Dropout rate to 0; the Dropout layers stay so the layer table
   * (and `freezeLayers` indices) are unchanged.
   */
  dropout?: boolean;
  /** Seed of the kernel initialisers: the same seed gives bit-identical initial weights. */
  seed?: number;
}

/** Input of the network: one CIFAR image, NHWC, float32, already normalised by the data lib. */
export const INPUT_SHAPE: readonly [number, number, number] = [32, 32, 3];

/** Number of float32 values per input sample (32 * 32 * 3). */
export const INPUT_SIZE = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2];

/** Upper bound on classes: predictions are returned as Uint8Array class ids. */
export const MAX_CLASSES = 256;

/**
 * Dropout rates of the reference network, by Keras layer name. `replaceHead({dropout: true})`
 * uses them to restore the rates of a model that was built with `dropout: false`.
 */
export const REFERENCE_DROPOUT_RATES: Readonly<Record<string, number>> = {
  dropout_1: 0.25,
  dropout_2: 0.25,
  dropout_3: 0.5,
};

/**
 * Keras' default kernel initialiser (glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))).
 * tfjs-layers defaults to glorotNormal, so it must be given explicitly to match the reference.
 * Each weighted layer gets its own seed (base + ordinal) so equal-shaped kernels differ.
 */
export function glorotUniform(seed: number | undefined, ordinal: number): KernelInitializer {
  return tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + ordinal });
}

/** Seed ordinal of the final Dense (dense_2); `replaceHead` reuses it for a fresh head. */
export const HEAD_SEED_ORDINAL = 6;

/**
 * Builds the reference network exactly, Keras order, with separate Activation layers:
 *
 * | layer | type | output | params |
 * |---|---|---|---|
 * | conv2d_1 | Conv2D(32, 3x3, same) | [32,32,32] | 896 |
 * | activation_1 | relu | [32,32,32] | 0 |
 * | conv2d_2 | Conv2D(32, 3x3, valid) | [30,30,32] | 9248 |
 * | activation_2 | relu | [30,30,32] | 0 |
 * | max_pooling2d_1 | MaxPooling2D(2x2) | [15,15,32] | 0 |
 * | dropout_1 | Dropout(0.25) | [15,15,32] | 0 |
 * | conv2d_3 | Conv2D(64, 3x3, same) | [15,15,64] | 18496 |
 * | activation_3 | relu | [15,15,64] | 0 |
 * | conv2d_4 | Conv2D(64, 3x3, valid) | [13,13,64] | 36928 |
 * | activation_4 | relu | [13,13,64] | 0 |
 * | max_pooling2d_2 | MaxPooling2D(2x2) | [6,6,64] | 0 |
 * | dropout_2 | Dropout(0.25) | [6,6,64] | 0 |
 * | flatten_1 | Flatten | [2304] | 0 |
 * | dense_1 | Dense(512) | [512] | 1180160 |
 * | activation_5 | relu | [512] | 0 |
 * | dropout_3 | Dropout(0.5) | [512] | 0 |
 * | dense_2 | Dense(numClasses) | [numClasses] | 513 * numClasses |
 * | activation_6 | softmax | [numClasses] | 0 |
 *
 * 1,250,858 parameters for 10 classes, 1,252,910 for 14. Input `[batch, 32, 32, 3]` float32.
 * Kernels glorot_uniform, biases zero (Keras defaults). The model is not compiled: training goes
 * through `computeGradients`.
 *
 * @throws ModelError E_MODEL_OPTIONS when numClasses is not an integer in [2, 256].
 */
export function createModel(opts: ModelOptions): tf.Sequential {
  const { numClasses, dropout = true, seed } = opts;
  assertNumClasses(numClasses);
  const rate = (name: string): number => (dropout ? (REFERENCE_DROPOUT_RATES[name] ?? 0) : 0);
  const conv = (name: string, filters: number, padding: 'same' | 'valid', ordinal: number, first = false) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: 3,
      padding,
      ...(first ? { inputShape: [...INPUT_SHAPE] } : {}),
      kernelInitializer: glorotUniform(seed, ordinal),
      biasInitializer: 'zeros',
    });
  const act = (name: string, activation: 'relu' | 'softmax') => tf.layers.activation({ name, activation });

  return tf.sequential({
    name: 'cifar_cnn',
    layers: [
      conv('conv2d_1', 32, 'same', 1, true),
      act('activation_1', 'relu'),
      conv('conv2d_2', 32, 'valid', 2),
      act('activation_2', 'relu'),
      tf.layers.maxPooling2d({ name: 'max_pooling2d_1', poolSize: 2 }),
      tf.layers.dropout({ name: 'dropout_1', rate: rate('dropout_1') }),
      conv('conv2d_3', 64, 'same', 3),
      act('activation_3', 'relu'),
      conv('conv2d_4', 64, 'valid', 4),
      act('activation_4', 'relu'),
      tf.layers.maxPooling2d({ name: 'max_pooling2d_2', poolSize: 2 }),
      tf.layers.dropout({ name: 'dropout_2', rate: rate('dropout_2') }),
      tf.layers.flatten({ name: 'flatten_1' }),
      tf.layers.dense({
        name: 'dense_1',
        units: 512,
        kernelInitializer: glorotUniform(seed, 5),
        biasInitializer: 'zeros',
      }),
      act('activation_5', 'relu'),
      tf.layers.dropout({ name: 'dropout_3', rate: rate('dropout_3') }),
      tf.layers.dense({
        name: 'dense_2',
        units: numClasses,
        kernelInitializer: glorotUniform(seed, HEAD_SEED_ORDINAL),
        biasInitializer: 'zeros',
      }),
      act('activation_6', 'softmax'),
    ],
  });
}

/** @throws ModelError E_MODEL_OPTIONS unless n is an integer in [2, MAX_CLASSES]. */
export function assertNumClasses(n: number): void {
  if (!Number.isInteger(n) || n < 2 || n > MAX_CLASSES) {
    throw new ModelError('E_MODEL_OPTIONS', `numClasses must be an integer in [2, ${MAX_CLASSES}], got ${n}`);
  }
}
