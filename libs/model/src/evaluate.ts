import * as tf from '@tensorflow/tfjs';
import { checkBatch, forwardLogits, logitLayers, numClassesOf, sampleShape } from './forward.js';
import { ModelError } from './errors.js';
import { sizeOfShape } from './param-count.js';

/** What an inference pass in chunks needs, after checking the batch against the model. */
function inferencePlan(model: tf.LayersModel, xs: Float32Array, labels: ArrayLike<number>, count: number, batchSize = 256) {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ModelError('E_MODEL_OPTIONS', `batchSize must be a positive integer, got ${batchSize}`);
  }
  const layers = logitLayers(model);
  const shape = sampleShape(model);
  const sampleSize = sizeOfShape(shape);
  const numClasses = numClassesOf(model);
  checkBatch(xs, labels, count, sampleSize, numClasses);
  return { batchSize, layers, shape, sampleSize, numClasses };
}

/** Per-sample results of {@link evaluateBatch}. */
export interface EvaluationResult {
  /** Argmax class id per sample. */
  predictions: Uint8Array;
  /** Softmax cross-entropy per sample (nats): -log_softmax(z)[label]. */
  losses: Float32Array;
}

/**
 * Inference-mode forward pass (training = false, dropout off) over `count` samples, in chunks of
 * at most `batchSize` (default 256) so memory stays bounded on large test sets. Chunking does not
 * change the results: every sample is computed independently. Reads back asynchronously (a GPU
 * backend cannot read synchronously in Node).
 *
 * @param xs NHWC float32, `count * 32 * 32 * 3` values, already normalised.
 * @param labels class ids in [0, numClasses), at least `count`.
 * @throws ModelError E_INPUT_SHAPE, E_LABEL_RANGE, E_MODEL_HEAD, E_MODEL_OPTIONS (batchSize < 1).
 */
export async function evaluateBatch(
  model: tf.LayersModel,
  xs: Float32Array,
  labels: ArrayLike<number>,
  count: number,
  opts: { batchSize?: number } = {},
): Promise<EvaluationResult> {
  const { batchSize, layers, shape, sampleSize, numClasses } = inferencePlan(model, xs, labels, count, opts.batchSize);

  const predictions = new Uint8Array(count);
  const losses = new Float32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const labelChunk = new Int32Array(n);
    for (let i = 0; i < n; i++) labelChunk[i] = labels[start + i];
    const [pred, loss] = tf.tidy(() => {
      const x = tf.tensor(xs.subarray(start * sampleSize, (start + n) * sampleSize), [n, ...shape], 'float32');
      const logits = forwardLogits(layers, x, false);
      const y = tf.oneHot(tf.tensor1d(labelChunk, 'int32'), numClasses);
      return [tf.argMax(logits, 1), tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))];
    });
    try {
      const [p, l] = await Promise.all([pred.data(), loss.data()]);
      predictions.set(p, start);
      losses.set(l, start);
    } finally {
      pred.dispose();
      loss.dispose();
    }
  }
  return { predictions, losses };
}

/**
 * Inference-mode logits (the last Dense's output, before the softmax; dropout off) of `count`
 * samples, in chunks of at most `batchSize` (default 256). What a post-hoc choice on a model's
 * outputs (e.g. the logit adjustment's tau) needs: the saved network's own output is already a
 * softmax, whose logarithm loses the logits of confident predictions to float32 underflow.
 *
 * @param xs NHWC float32, `count * 32 * 32 * 3` values, already normalised.
 * @returns float32 [count, numClasses], row-major
 * @throws ModelError E_INPUT_SHAPE, E_MODEL_HEAD, E_MODEL_OPTIONS (batchSize < 1)
 */
export async function predictLogits(model: tf.LayersModel, xs: Float32Array, count: number, opts: { batchSize?: number } = {}): Promise<Float32Array> {
  const { batchSize, layers, shape, sampleSize, numClasses } = inferencePlan(model, xs, new Uint8Array(count), count, opts.batchSize);
  const out = new Float32Array(count * numClasses);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const logits = tf.tidy(() => forwardLogits(layers, tf.tensor(xs.subarray(start * sampleSize, (start + n) * sampleSize), [n, ...shape], 'float32'), false));
    try {
      out.set(await logits.data(), start * numClasses);
    } finally {
      logits.dispose();
    }
  }
  return out;
}
