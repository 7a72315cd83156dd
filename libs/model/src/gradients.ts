import * as tf from '@tensorflow/tfjs';
import { checkBatch, forwardLogits, type DropoutMaskSource, logitLayers, numClassesOf, sampleShape } from './forward.js';
import { flatLength, readValuesInto, selectedWeights } from './flat-weights.js';
import { ModelError } from './errors.js';
import { sizeOfShape } from './param-count.js';

/** Result of one forward+backward pass, see {@link computeGradients}. */
export interface GradientResult {
  /** Mean softmax cross-entropy over the batch (nats). */
  loss: number;
  /** Samples whose argmax prediction equals the label (with dropout active, as trained). */
  correct: number;
  /** Batch size the loss and gradients are averaged over. */
  count: number;
  /** d(mean loss)/d(trainable weights), flattened in `weightSpecs(model, 'trainable')` order. */
  gradients: Float32Array;
}

/** Labels as an int32 array of exactly `count` entries (the tensor input of oneHot). */
function labelArray(labels: ArrayLike<number>, count: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = labels[i];
  return out;
}

/**
 * One training-mode forward and backward pass on a batch, without touching the weights — the
 * `computeGradients` half of tfjs' `optimizer.minimize`, which a data-parallel trainer needs so
 * that workers' gradients can be averaged before one optimizer step.
 *
 * loss = mean_i( -sum_c t_ic log_softmax(z_i)_c ), z = logits (output of the last Dense, before the
 * softmax Activation), t_i = onehot(y_i) or, with label smoothing e, (1 - e) onehot(y_i) + e / K
 * (K classes; Szegedy et al. 2016, as Keras' and PyTorch's label_smoothing); equal to Keras'
 * categorical_crossentropy on softmax(z), computed stably. Dropout is active (training = true).
 *
 * @param xs NHWC float32, `count * 32 * 32 * 3` values, already normalised.
 * @param labels integer class ids, at least `count` of them, each in [0, numClasses).
 * @param options.dropoutMasks keep-masks for the Dropout layers (deterministic training); default:
 *   tfjs' own random masks.
 * @param options.labelSmoothing e in [0, 1) (default 0: the one-hot target).
 * @param options.out where to write the gradients (every value overwritten) instead of a new
 *   array: a worker reuses one, as fresh 5 MB arrays cost ~15 ms of page faults each on a VM.
 * Reading the results back is asynchronous because a GPU backend (webgpu) cannot read synchronously
 * in Node; on wasm the gradients are copied straight from the heap, elsewhere every gradient, the
 * loss and the predictions travel in one read-back.
 *
 * @returns gradients of the mean loss w.r.t. the TRAINABLE weights only (frozen layers are absent),
 *   length = trainable parameter count.
 * @throws ModelError E_INPUT_SHAPE, E_LABEL_RANGE, E_MODEL_HEAD; E_MODEL_WEIGHTS_LENGTH when
 *   `out` is not the trainable parameter count long.
 */
export async function computeGradients(
  model: tf.LayersModel,
  xs: Float32Array,
  labels: ArrayLike<number>,
  count: number,
  options: { dropoutMasks?: DropoutMaskSource; out?: Float32Array; labelSmoothing?: number } = {},
): Promise<GradientResult> {
  const layers = logitLayers(model);
  const shape = sampleShape(model);
  const numClasses = numClassesOf(model);
  checkBatch(xs, labels, count, sizeOfShape(shape), numClasses);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new ModelError('E_MODEL_OPTIONS', `labelSmoothing must be in [0, 1), got ${smoothing}`);

  const trainable = selectedWeights(model, 'trainable');
  // LayerVariable.read() hands back the underlying tf.Variable itself (not a copy).
  const vars = trainable.map((w) => w.read() as tf.Variable);
  let predicted: tf.Tensor | undefined;
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  try {
    result = tf.tidy(() => {
      const x = tf.tensor(xs, [count, ...shape], 'float32');
      const onehot = tf.oneHot(tf.tensor1d(labelArray(labels, count), 'int32'), numClasses);
      const y = smoothing > 0 ? tf.add(tf.mul(onehot, 1 - smoothing), smoothing / numClasses) : onehot;
      return tf.variableGrads(() => {
        const logits = forwardLogits(layers, x, true, options.dropoutMasks);
        // Kept past the tape's tidy; disposed in finally.
        predicted = tf.keep(tf.argMax(logits, 1));
        return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar;
      }, vars);
    });

    const length = flatLength(model, 'trainable');
    if (options.out !== undefined && options.out.length !== length) {
      throw new ModelError('E_MODEL_WEIGHTS_LENGTH', `gradient buffer has ${options.out.length} values, the trainable weights ${length}`);
    }
    const gradients = options.out ?? new Float32Array(length);
    // A weight the loss does not reach keeps a zero gradient rather than shifting the layout.
    const parts = vars.map((v) => result?.grads[v.name] ?? v.size);
    const [loss, pred] = await readValuesInto(parts, gradients, [result.value, predicted as tf.Tensor]);
    let correct = 0;
    for (let i = 0; i < count; i++) if (pred[i] === labels[i]) correct++;
    return { loss: loss[0] as number, correct, count, gradients };
  } finally {
    predicted?.dispose();
    if (result !== undefined) {
      result.value.dispose();
      tf.dispose(result.grads);
    }
  }
}
