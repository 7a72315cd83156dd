import { normalizeImages } from '@cifar-dist/data';
import { INPUT_SHAPE, INPUT_SIZE, tf } from '@cifar-dist/model';

/**
 * Class probabilities of `count` images: the model's own output, which is already a softmax (the
 * saved network ends in Activation('softmax'), libs/model createModel), computed by `model.predict`
 * in inference mode (dropout off) in batches of at most `batchSize`.
 *
 * @param images uint8 NHWC [count, 32, 32, 3] RGB; standardised here with `normalizeImages`
 *   (CIFAR-10 per-channel mean/std), exactly the transformation training applied
 * Reads back asynchronously (a GPU backend cannot read synchronously in Node).
 * @returns float32 [count, numClasses], row-major; each row sums to 1 (to float32 rounding)
 */
export async function predictProbabilities(model: tf.LayersModel, images: Uint8Array, count: number, batchSize = 256): Promise<Float32Array> {
  const xs = normalizeImages(images, count);
  const numClasses = model.outputs[0]?.shape[1];
  if (typeof numClasses !== 'number') throw new Error(`model ${model.name} has no fixed output width`);
  const out = new Float32Array(count * numClasses);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(xs.subarray(start * INPUT_SIZE, (start + n) * INPUT_SIZE), [n, ...INPUT_SHAPE], 'float32');
      return model.predict(x) as tf.Tensor;
    });
    try {
      out.set(await probs.data(), start * numClasses);
    } finally {
      probs.dispose();
    }
  }
  return out;
}
