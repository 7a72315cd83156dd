import type * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';

/**
 * Marks layers `[0, k)` non-trainable, as Keras' `for layer in model.layers[:k]: layer.trainable =
 * False`. Layers from k on are left as they are (Keras semantics: this never unfreezes).
 * For the reference network k = 5 freezes conv2d_1, activation_1, conv2d_2, activation_2,
 * max_pooling2d_1 (896 + 9248 parameters). Their weights then drop out of
 * `model.trainableWeights`, `weightSpecs(model, 'trainable')` and `computeGradients`.
 *
 * @throws ModelError E_FREEZE_RANGE unless k is an integer in [0, model.layers.length].
 */
export function freezeLayers(model: tf.LayersModel, k: number): void {
  const n = model.layers.length;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ModelError('E_FREEZE_RANGE', `cannot freeze ${k} layers of a ${n}-layer model`);
  }
  for (const layer of model.layers.slice(0, k)) layer.trainable = false;
}
