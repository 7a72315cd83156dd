import { createStreamRng } from '@cifar-dist/data';
import type { DropoutMaskSource } from '@cifar-dist/model';
import { mixSeed } from './seed.js';

/**
 * Dropout keep-masks that depend only on (dropoutSeed, position of the sample in the epoch,
 * Dropout layer), never on which worker or which batch size computed the sample: sample at epoch
 * position p keeps value v of Dropout layer d when the d-th stream of sfc32(mixSeed(dropoutSeed, p))
 * draws u >= rate. With this, a deterministic run's gradients are the same on 1, 2 or 3 workers.
 *
 * @param firstPosition epoch position of the batch's first sample
 */
export function keyedDropoutMasks(dropoutSeed: number, firstPosition: number): DropoutMaskSource {
  return (dropoutIndex, rate, perSample, count) => {
    const keep = new Uint8Array(perSample * count);
    for (let s = 0; s < count; s++) {
      const rng = createStreamRng(mixSeed(dropoutSeed, firstPosition + s), dropoutIndex + 1);
      const base = s * perSample;
      for (let i = 0; i < perSample; i++) keep[base + i] = rng.next() >= rate ? 1 : 0;
    }
    return keep;
  };
}
