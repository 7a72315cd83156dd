import type * as tf from '@tensorflow/tfjs';
import { countParams } from './param-count.js';

/** `1250858` -> `"1,250,858"` (Keras prints counts with thousands separators). */
export function formatThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `[null, 32, 32, 32]` -> `"(None, 32, 32, 32)"`, as Keras prints batch-free shapes. */
function formatShape(shape: tf.Shape | tf.Shape[]): string {
  const one = (s: tf.Shape) => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
  return Array.isArray(shape[0]) ? (shape as tf.Shape[]).map(one).join(', ') : one(shape as tf.Shape);
}

/**
 * Keras `model.summary()`-style text: a `Layer (type) | Output Shape | Param #` table with one row
 * per layer, then `Total params`, `Trainable params`, `Non-trainable params` with thousands
 * separators. Column starts follow Keras' sequential layout (0, 29, 55) but widen instead of
 * truncating long names (Keras cuts `max_pooling2d_1 (MaxPooling2D)` to 29 characters).
 *
 * @param title shown as `Model: "<title>"`; defaults to the model's name.
 */
export function modelSummary(model: tf.LayersModel, title?: string): string {
  const rows = model.layers.map((layer) => [
    `${layer.name} (${layer.getClassName()})`,
    formatShape(layer.outputShape),
    formatThousands(layer.countParams()),
  ]);
  const header = ['Layer (type)', 'Output Shape', 'Param #'];
  const w0 = Math.max(29, ...rows.map((r) => r[0].length + 1));
  const w1 = Math.max(26, ...rows.map((r) => r[1].length + 1));
  const w2 = Math.max(10, ...rows.map((r) => r[2].length + 1));
  const width = w0 + w1 + w2;
  const line = (r: string[]) => (r[0].padEnd(w0) + r[1].padEnd(w1) + r[2]).trimEnd();
  const { total, trainable, nonTrainable } = countParams(model);

  const out = [`Model: "${title ?? model.name}"`, '_'.repeat(width), line(header), '='.repeat(width)];
  rows.forEach((r, i) => {
    out.push(line(r));
    out.push(i === rows.length - 1 ? '='.repeat(width) : '_'.repeat(width));
  });
  out.push(
    `Total params: ${formatThousands(total)}`,
    `Trainable params: ${formatThousands(trainable)}`,
    `Non-trainable params: ${formatThousands(nonTrainable)}`,
    '_'.repeat(width),
  );
  return out.join('\n');
}
