import { describe, expect, it } from 'vitest';
import { gatherBatch } from './batch';
import { IMAGE_BYTES } from './layout';
import { expectThrowsData } from './spec-helpers';
import { patternImage, patternImages } from './test-fixtures';
import type { ImageSet } from './types';

const SET: ImageSet = {
  images: patternImages(0, 5),
  labels: Uint8Array.from([4, 3, 2, 1, 0]),
  count: 5,
  classNames: ['a', 'b', 'c', 'd', 'e'],
};

describe('gatherBatch', () => {
  it('copies images and labels at the indices, in the given order', () => {
    const b = gatherBatch(SET, Uint32Array.from([3, 0, 3]));
    expect(b.count).toBe(3);
    expect(Array.from(b.labels)).toEqual([1, 4, 1]);
    expect(b.images).toHaveLength(3 * IMAGE_BYTES);
    expect(b.images.subarray(0, IMAGE_BYTES)).toEqual(patternImage(3));
    expect(b.images.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES)).toEqual(patternImage(0));
    expect(b.images.subarray(2 * IMAGE_BYTES)).toEqual(patternImage(3));
  });

  it('returns copies, not views', () => {
    const b = gatherBatch(SET, [1]);
    b.images[0] ^= 0xff;
    b.labels[0] = 9;
    expect(SET.images.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES)).toEqual(patternImage(1));
    expect(SET.labels[1]).toBe(3);
  });

  it('handles an empty index list and rejects out-of-range indices', () => {
    expect(gatherBatch(SET, []).count).toBe(0);
    expectThrowsData(() => gatherBatch(SET, [5]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => gatherBatch(SET, [-1]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => gatherBatch(SET, [0.5]), 'E_DATA_ARGUMENT');
  });
});
