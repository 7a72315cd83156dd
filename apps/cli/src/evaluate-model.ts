import { normalizeImages, IMAGE_BYTES, type ImageSet } from '@cifar-dist/data';
import { MetricsAccumulator, type ClassificationReport } from '@cifar-dist/metrics';
import { evaluateBatch, type tf } from '@cifar-dist/model';

/** Samples per evaluation request of a training run (TrainConfig.evalChunk's default). */
export const DEFAULT_EVAL_CHUNK = 500;

/**
 * Test metrics of `model` on `set`, computed exactly as a training run computes report.json's
 * (PhaseRunner.evaluateReport -> WorkerRuntime.evaluate): the set is cut into chunks of `evalChunk`
 * images; each chunk is standardised with `normalizeImages` and run through `evaluateBatch`
 * (inference mode, logits, per-sample loss -log_softmax(logits)[label] in nats, its default
 * internal batch of 256); the accumulator sums the confusion matrix and the losses exactly, so the
 * report (accuracy, mean loss, per-class figures) does not depend on chunk order.
 *
 * @param set uint8 NHWC images with labels in [0, numClasses) and classNames (the report's names)
 * @throws ModelError / MetricsError when the labels or shapes do not fit the model
 */
export async function evaluateModel(model: tf.LayersModel, set: ImageSet, evalChunk = DEFAULT_EVAL_CHUNK): Promise<ClassificationReport> {
  const acc = new MetricsAccumulator(set.classNames.length, set.classNames);
  for (let start = 0; start < set.count; start += evalChunk) {
    const end = Math.min(set.count, start + evalChunk);
    const labels = set.labels.subarray(start, end);
    const xs = normalizeImages(set.images.subarray(start * IMAGE_BYTES, end * IMAGE_BYTES), end - start);
    const { predictions, losses } = await evaluateBatch(model, xs, labels, end - start);
    acc.add(labels, predictions, losses);
  }
  return acc.report();
}
