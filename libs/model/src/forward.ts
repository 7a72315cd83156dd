import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';

/**
 * The layers that map an input batch to logits: every layer except the final softmax Activation
 * (and except an InputLayer, which a functional model lists first). The loss is computed from the
 * logits with a log-softmax, which is stable where `log(softmax(z))` underflows; mathematically it
 * equals Keras' categorical_crossentropy on the softmax output.
 *
 * @throws ModelError E_MODEL_HEAD unless the model's last layer is Activation('softmax').
 */
export function logitLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const layers = model.layers;
  const last = layers[layers.length - 1];
  if (last === undefined || last.getClassName() !== 'Activation' || last.getConfig()['activation'] !== 'softmax') {
    throw new ModelError(
      'E_MODEL_HEAD',
      `model ${model.name} must end in Activation('softmax'), ends in ${last ? last.getClassName() : 'nothing'}`,
    );
  }
  return layers.slice(0, -1).filter((l) => l.getClassName() !== 'InputLayer');
}

/**
 * Supplies the keep-masks of the Dropout layers instead of tfjs' own random draws (which are seeded
 * from Math.random): called once per Dropout layer in a training pass with the layer's ordinal
 * among the model's Dropout layers (0, 1, 2, …), its rate, the values per sample and the batch
 * size. Returns `count * perSample` entries, each 0 (dropped) or 1 (kept), sample-major.
 */
export type DropoutMaskSource = (dropoutIndex: number, rate: number, perSample: number, count: number) => Uint8Array;

/**
 * Runs `x` [batch, 32, 32, 3] through `layers` and returns the logits [batch, numClasses].
 * `training` switches Dropout on; with `masks`, Dropout layers use those keep-masks (inverted
 * dropout: kept values scaled by 1/(1-rate), as tfjs and Keras do). Call inside a tidy (or a
 * gradient tape): intermediates are not disposed here.
 */
export function forwardLogits(layers: tf.layers.Layer[], x: tf.Tensor, training: boolean, masks?: DropoutMaskSource): tf.Tensor2D {
  let y = x;
  let dropoutIndex = 0;
  layers.forEach((layer, i) => {
    if (training && masks && layer.getClassName() === 'Dropout') {
      y = keyedDropout(y, Number(layer.getConfig()['rate']), masks(dropoutIndex++, Number(layer.getConfig()['rate']), y.size / (y.shape[0] as number), y.shape[0] as number));
      return;
    }
    const direct = i === 0 && training ? inputConv(layer, y) : undefined;
    y = direct ?? (layer.apply(y, { training }) as tf.Tensor);
  });
  return y as tf.Tensor2D;
}

/** Inverted dropout with a given keep-mask (values 0/1, same element count as `y`). */
function keyedDropout(y: tf.Tensor, rate: number, keep: Uint8Array): tf.Tensor {
  if (rate <= 0) return y;
  if (keep.length !== y.size) {
    throw new ModelError('E_INPUT_SHAPE', `dropout mask has ${keep.length} values for a tensor of ${y.size}`);
  }
  const scale = new Float32Array(keep.length);
  const kept = 1 / (1 - rate);
  for (let i = 0; i < keep.length; i++) scale[i] = keep[i] ? kept : 0;
  return tf.mul(y, tf.tensor(scale, y.shape, 'float32'));
}

/**
 * The first Conv2D applied as plain `conv2d + bias` instead of the layer's `tf.fused.conv2d`.
 * Same values; the point is the gradient: fused conv2d's custom gradient always computes dx, and
 * dx of the input batch is never needed (~10 ms of a 64-image wasm step), whereas conv2d's
 * registered gradient is lazy per input. Returns undefined (use layer.apply) for anything but a
 * channels-last Conv2D with linear activation and a bias.
 */
function inputConv(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor | undefined {
  if (layer.getClassName() !== 'Conv2D') return undefined;
  const c = layer.getConfig();
  if (c['activation'] !== 'linear' || c['useBias'] !== true || c['dataFormat'] !== 'channelsLast') return undefined;
  const [kernel, bias] = layer.getWeights();
  if (kernel === undefined || bias === undefined) return undefined;
  const conv = tf.conv2d(
    x as tf.Tensor4D,
    kernel as tf.Tensor4D,
    c['strides'] as [number, number],
    c['padding'] as 'same' | 'valid',
    'NHWC',
    c['dilationRate'] as [number, number],
  );
  return tf.add(conv, bias);
}

/** Shape of one sample of the model's (single) input, without the batch dim: [32, 32, 3] here. */
export function sampleShape(model: tf.LayersModel): number[] {
  const shape = model.inputs[0]?.shape;
  if (shape === undefined || shape.slice(1).some((d) => d === null)) {
    throw new ModelError('E_INPUT_SHAPE', `model ${model.name} has no fixed input shape`);
  }
  return shape.slice(1) as number[];
}

/**
 * Checks a batch before it becomes tensors: `xs.length === count * sampleSize`, labels are
 * integers in [0, numClasses), and there are at least `count` of them.
 *
 * @throws ModelError E_INPUT_SHAPE or E_LABEL_RANGE.
 */
export function checkBatch(
  xs: Float32Array,
  labels: ArrayLike<number>,
  count: number,
  sampleSize: number,
  numClasses: number,
): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new ModelError('E_INPUT_SHAPE', `count must be a positive integer, got ${count}`);
  }
  if (xs.length !== count * sampleSize) {
    throw new ModelError('E_INPUT_SHAPE', `expected ${count} x ${sampleSize} = ${count * sampleSize} values, got ${xs.length}`);
  }
  if (labels.length < count) {
    throw new ModelError('E_INPUT_SHAPE', `expected ${count} labels, got ${labels.length}`);
  }
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new ModelError('E_LABEL_RANGE', `label ${i} is ${y}, not a class id in [0, ${numClasses})`);
    }
  }
}

/** Width of the model's output (number of classes). */
export function numClassesOf(model: tf.LayersModel): number {
  const shape = model.outputs[0]?.shape;
  const n = shape?.[shape.length - 1];
  if (typeof n !== 'number') throw new ModelError('E_MODEL_HEAD', `model ${model.name} has no fixed output width`);
  return n;
}
