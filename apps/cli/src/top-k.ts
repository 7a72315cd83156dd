/** One ranked class of a prediction. */
export interface RankedClass {
  class: string;
  probability: number;
}

/** predict's result for one image file (also its `--json` output element). */
export interface FilePrediction {
  file: string;
  top: RankedClass[];
}

/**
 * The `k` most probable classes, most probable first; equal probabilities keep class order.
 * `k` larger than the number of classes returns them all.
 *
 * @param probs one probability per class
 * @param names display name per class (same length as `probs`)
 */
export function topK(probs: ArrayLike<number>, k: number, names: readonly string[]): RankedClass[] {
  const order = Array.from({ length: probs.length }, (_, i) => i);
  order.sort((a, b) => probs[b] - probs[a] || a - b);
  return order.slice(0, Math.max(0, k)).map((i) => ({ class: names[i] ?? `class ${i}`, probability: probs[i] }));
}

/**
 * Human-readable predictions: per file its name, then one line per ranked class,
 * `  <class padded>  <probability, 4 decimals>`, files separated by a blank line.
 */
export function formatPredictions(results: readonly FilePrediction[]): string {
  const width = Math.max(0, ...results.flatMap((r) => r.top.map((t) => t.class.length)));
  return results
    .map((r) => [r.file, ...r.top.map((t) => `  ${t.class.padEnd(width)}  ${t.probability.toFixed(4)}`)].join('\n'))
    .join('\n\n')
    .concat(results.length > 0 ? '\n' : '');
}
