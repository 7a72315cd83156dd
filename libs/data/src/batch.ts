import { argumentError } from './errors';
import { IMAGE_BYTES } from './layout';
import type { ImageSet } from './types';

/**
 * Copies the images and labels at `indices` (any order, repeats allowed) into new contiguous
 * arrays: image k of the batch is image indices[k] of the set.
 *
 * @returns images NHWC uint8 [indices.length, 32, 32, 3], labels [indices.length]
 * @throws CifarDataError E_DATA_ARGUMENT on an index that is not an integer in 0..set.count-1
 */
export function gatherBatch(
  set: Pick<ImageSet, 'images' | 'labels' | 'count'>,
  indices: ArrayLike<number>,
): { images: Uint8Array; labels: Uint8Array; count: number } {
  const count = indices.length;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw argumentError(`gatherBatch: index ${i} (position ${k}) is outside 0..${set.count - 1}`);
    }
    images.set(set.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), k * IMAGE_BYTES);
    labels[k] = set.labels[i];
  }
  return { images, labels, count };
}
